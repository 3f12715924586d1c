// SPDX-License-Identifier: GPL-3.0-or-later
#include "cli.h"

#include "sinkscope/error.h"
#include "sinkscope/model.h"
#include "sinkscope/threads.h"
#include "sinkscope/version.h"

#include <QCommandLineParser>

#include <algorithm>
#include <cstdio>
#include <new>

namespace sinkscope::cli {

namespace {

struct Command {
    const CommandSpec& (*spec)();
    int (*run)(const QStringList&);
};

const Command kCommands[] = {
    {runSpec, runCommand},         {analyzeSpec, analyzeCommand}, {tokenizeSpec, tokenizeCommand},
    {figureSpec, figureCommand},   {classifySpec, classifyCommand}, {controlSpec, controlCommand},
    {demoSpec, demoCommand},       {modelsSpec, modelsCommand},   {mergeSpec, mergeCommand},
};

QString optionSynopsis(const OptionSpec& o)
{
    return o.valueName.isEmpty() ? QStringLiteral("--%1").arg(o.name) : QStringLiteral("--%1 %2").arg(o.name, o.valueName);
}

// The overview: every command with every one of its options, generated from the specs.
QString usage()
{
    QString u = QStringLiteral("usage: sinkscope-cli <command> [options]\n"
                               "       sinkscope-cli <command> --help   the command's options, one per line\n"
                               "       sinkscope-cli --version          program version and the CPU threading in effect\n"
                               "\ncommands:\n");
    for (const Command& c : kCommands) {
        const CommandSpec& spec = c.spec();
        u += QStringLiteral("  %1  %2\n").arg(spec.name.leftJustified(9), spec.summary);
        QString line = QStringLiteral("             ");
        if (!spec.arguments.isEmpty())
            line += QLatin1Char(' ') + spec.arguments;
        for (const OptionSpec& o : spec.options) {
            const QString item = QLatin1Char('[') + optionSynopsis(o) + QLatin1Char(']');
            if (line.size() + 1 + item.size() > 100) {
                u += line + QLatin1Char('\n');
                line = QStringLiteral("             ");
            }
            line += QLatin1Char(' ') + item;
        }
        if (!spec.options.isEmpty())
            u += line + QLatin1Char('\n');
    }
    return u;
}

void print(std::FILE* f, const QString& text)
{
    const QByteArray b = text.toUtf8();
    std::fwrite(b.constData(), 1, size_t(b.size()), f);
    std::fflush(f);
}

} // namespace

QString commandHelp(const CommandSpec& spec)
{
    const QString args = spec.arguments.isEmpty() ? QString() : QLatin1Char(' ') + spec.arguments;
    QString h = QStringLiteral("usage: sinkscope-cli %1%2 [options]\n%3\n\noptions:\n").arg(spec.name, args, spec.summary);
    int width = 6;
    for (const OptionSpec& o : spec.options)
        width = std::max(width, int(optionSynopsis(o).size()));
    for (const OptionSpec& o : spec.options)
        h += QStringLiteral("  %1  %2\n").arg(optionSynopsis(o).leftJustified(width), o.help);
    h += QStringLiteral("  %1  %2\n").arg(QStringLiteral("--help").leftJustified(width), QStringLiteral("show this help"));
    if (!spec.notes.isEmpty())
        h += QLatin1Char('\n') + spec.notes + QLatin1Char('\n');
    return h;
}

OptionSpec threadsOption()
{
    return {QStringLiteral("threads"), QStringLiteral("N"),
            QStringLiteral("CPU threads of the forward pass (default 0: one per physical core)")};
}

OptionSpec deviceOption()
{
    return {QStringLiteral("device"), QStringLiteral("auto|cpu|cuda"), QStringLiteral("where the model runs (default auto)")};
}

OptionSpec dtypeOption()
{
    return {QStringLiteral("dtype"), QStringLiteral("auto|fp32|fp16|bf16"),
            QStringLiteral("compute dtype (default auto: fp32 on CPU, the checkpoint's on CUDA)")};
}

OptionSpec bosOption()
{
    return {QStringLiteral("bos"), QStringLiteral("auto|on|off"),
            QStringLiteral("beginning-of-sequence token: as the tokenizer files say, exactly one, or none")};
}

OptionSpec modelOption()
{
    return {QStringLiteral("model"), QStringLiteral("DIR"), QStringLiteral("the model folder (or a Hugging Face cache entry)")};
}

OptionSpec outOption()
{
    return {QStringLiteral("out"), QStringLiteral("OUTDIR"), QStringLiteral("the result folder (required)")};
}

OptionSpec forceOption()
{
    return {QStringLiteral("force"), QString(), QStringLiteral("replace a result folder that already holds files, as a whole")};
}

QString resultFolderNote()
{
    return QStringLiteral("--out must be absent or empty; --force replaces a folder that holds files as a whole.");
}

namespace {

CommandSpec specFromNames(const QStringList& valued, const QStringList& flags)
{
    CommandSpec spec;
    for (const QString& n : valued)
        spec.options.push_back({n, QStringLiteral("VALUE"), QString()});
    for (const QString& n : flags)
        spec.options.push_back({n, QString(), QString()});
    return spec;
}

} // namespace

Options::Options(const QStringList& args, const QStringList& valued, const QStringList& flags)
    : Options(args, specFromNames(valued, flags))
{
}

Options::Options(const QStringList& args, const CommandSpec& spec)
{
    QCommandLineParser parser;
    // No option has a one-letter name, so any single-dash word ("-out") fails to parse and is named
    // below as an unexpected argument, as a positional word is.
    const QCommandLineOption help(QStringLiteral("help"));
    parser.addOption(help);
    for (const OptionSpec& o : spec.options)
        parser.addOption(o.valueName.isEmpty() ? QCommandLineOption(o.name, o.help)
                                               : QCommandLineOption(o.name, o.help, o.valueName));
    const bool parsed = parser.parse(QStringList{QStringLiteral("sinkscope-cli")} + args);
    const QStringList seen = parser.optionNames(); // one entry per occurrence
    bool twice = false;
    for (const QString& name : seen)
        twice = twice || seen.count(name) > 1;
    if (!parsed || !parser.positionalArguments().isEmpty() || twice) {
        // Name the first problem in the words as typed, the way the error messages have always read.
        QStringList given;
        for (int i = 0; i < args.size(); ++i) {
            const QString& a = args[i];
            if (!a.startsWith(QLatin1String("--")))
                throw UsageError("unexpected argument '" + a.toStdString() + "'");
            const QString name = a.mid(2).section(QLatin1Char('='), 0, 0);
            const auto it = std::find_if(spec.options.begin(), spec.options.end(),
                                         [&](const OptionSpec& o) { return o.name == name; });
            if (it == spec.options.end() && name != QLatin1String("help"))
                throw UsageError("unknown option '--" + name.toStdString() + "'");
            if (given.contains(name))
                throw UsageError("option '--" + name.toStdString() + "' given twice");
            given << name;
            if (it != spec.options.end() && !it->valueName.isEmpty() && !a.contains(QLatin1Char('=')) && ++i >= args.size())
                throw UsageError("option '--" + name.toStdString() + "' needs a value");
        }
        throw UsageError(parser.errorText().toStdString()); // anything else the parser refused
    }
    if (parser.isSet(help))
        throw HelpRequested(spec);
    for (const OptionSpec& o : spec.options)
        if (parser.isSet(o.name))
            m_values[o.name] = o.valueName.isEmpty() ? QString() : parser.value(o.name);
}

bool Options::has(const QString& name) const
{
    return m_values.count(name) != 0;
}

QString Options::value(const QString& name, const QString& fallback) const
{
    const auto it = m_values.find(name);
    return it == m_values.end() ? fallback : it->second;
}

QString Options::required(const QString& name) const
{
    if (!has(name))
        throw UsageError("missing --" + name.toStdString());
    return value(name);
}

void applyThreadsOption(const Options& o)
{
    int n = 0;
    if (o.has("threads")) {
        try {
            n = parseThreadCount(o.value("threads").toStdString());
        } catch (const Error& e) {
            throw UsageError(e.what());
        }
    }
    setComputeThreads(n);
}

void out(const QString& line)
{
    const QByteArray b = line.toUtf8();
    std::fwrite(b.constData(), 1, size_t(b.size()), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

void err(const QString& line)
{
    // Messages carry paths, names and text from files: escaped, so a control character or a
    // terminal escape sequence is shown, never executed by the terminal.
    const QByteArray b = QByteArray::fromStdString(escapeForDisplay(line.toStdString()));
    std::fwrite(b.constData(), 1, size_t(b.size()), stderr);
    std::fputc('\n', stderr);
    std::fflush(stderr);
}

int dispatch(const QStringList& args)
{
    if (args.size() < 2 || args[1] == QLatin1String("--help") || args[1] == QLatin1String("help")) {
        print(args.size() < 2 ? stderr : stdout, usage());
        return args.size() < 2 ? 2 : 0;
    }
    if (args[1] == QLatin1String("--version") || args[1] == QLatin1String("version")) {
        setComputeThreads(0);
        out(QStringLiteral("sinkscope-cli %1").arg(QString::fromLatin1(appVersion())));
        out(QString::fromStdString(threadingSummary()));
        out(QStringLiteral("cuda: %1").arg(cudaAvailable() ? QStringLiteral("available") : QStringLiteral("not available")));
        return 0;
    }
    const QString command = args[1];
    const QStringList rest = args.mid(2);
    try {
        for (const Command& c : kCommands)
            if (c.spec().name == command)
                return c.run(rest);
        throw UsageError("unknown command '" + command.toStdString() + "'");
    } catch (const HelpRequested& h) {
        print(stdout, commandHelp(h.spec));
        return 0;
    } catch (const UsageError& e) {
        err(QStringLiteral("error: %1").arg(QString::fromStdString(std::string(e.what()))));
        print(stderr, usage());
        return 2;
    } catch (const Error& e) {
        err(QStringLiteral("error: %1").arg(QString::fromStdString(e.describe())));
        return e.code() == ErrorCode::Cancelled ? 130 : 1;
    } catch (const std::bad_alloc&) {
        err(QStringLiteral("error: out of host memory"));
        return 1;
    } catch (const std::exception& e) {
        err(QStringLiteral("error: %1").arg(QString::fromUtf8(e.what())));
        return 1;
    }
}

} // namespace sinkscope::cli
