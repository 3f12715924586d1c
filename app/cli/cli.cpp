// SPDX-License-Identifier: GPL-3.0-or-later
#include "cli.h"

#include "sinkscope/error.h"
#include "sinkscope/model.h"
#include "sinkscope/threads.h"
#include "sinkscope/version.h"

#include <cstdio>
#include <new>

namespace sinkscope::cli {

namespace {

const char* kUsage =
    "usage: sinkscope-cli <command> [options]\n"
    "\n"
    "commands:\n"
    "  run       --model DIR (--prompt TEXT | --ids 1,2,3) [--bos auto|on|off]\n"
    "            [--device auto|cpu|cuda] [--save attention,logits] [--threads N] --out OUTDIR [--force]\n"
    "  tokenize  (--model DIR | --tokenizer FILE) (--text TEXT | --text-file FILE) [--bos auto|on|off]\n"
    "  analyze   --model DIR (--prompt TEXT | --prompts FILE) [--length T] [--epsilon E] [--threads N] --out OUTDIR [--force]\n"
    "            [--per-prompt-tensors]   keep each prompt's [L,H,T] tables in metrics.json\n"
    "  figure    --model DIR (--prompt TEXT | --prompts FILE | --session FILE) --view NAME\n"
    "            [--layer L --head H] [--preset one-column|two-column|WxH] [--dpi N]\n"
    "            [--bos auto|on|off] [--device auto|cpu|cuda] --out FILE.(pdf|svg|png)\n"
    "            draw a view offscreen; writes FILE, FILE.csv and FILE.json\n"
    "  classify  --model DIR (--prompt TEXT | --prompts FILE) [--length T] [--threads N] --out OUTDIR [--force]\n"
    "            positional / feature / mixed / none verdict per head (docs/METHODS.md)\n"
    "  control   --model DIR (--prompt TEXT | --prompts FILE) --control SPEC [--threads N] --out OUTDIR [--force]\n"
    "            SPEC: block:J | designate:J | positions:shift=D | positions:J=0 | evict:K,W\n"
    "  demo      --out DIR [--kind decoder|encoder]   write a built-in demo model\n"
    "  models    list the supported model families\n"
    "  --version program version and the CPU threading in effect\n"
    "\n"
    "--out must be absent or empty; --force replaces a folder that holds files as a whole.\n"
    "--threads N: CPU threads of the forward pass (default 0: one per physical core).\n";

} // namespace

Options::Options(const QStringList& args, const QStringList& valued, const QStringList& flags)
{
    for (int i = 0; i < args.size(); ++i) {
        const QString& a = args[i];
        if (!a.startsWith(QLatin1String("--")))
            throw UsageError("unexpected argument '" + a.toStdString() + "'");
        const QString name = a.mid(2);
        if (m_values.count(name))
            throw UsageError("option '" + a.toStdString() + "' given twice");
        if (flags.contains(name)) {
            m_values[name] = QString();
        } else if (valued.contains(name)) {
            if (i + 1 >= args.size())
                throw UsageError("option '" + a.toStdString() + "' needs a value");
            m_values[name] = args[++i];
        } else {
            throw UsageError("unknown option '" + a.toStdString() + "'");
        }
    }
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
        std::fputs(kUsage, args.size() < 2 ? stderr : stdout);
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
        if (command == QLatin1String("run"))
            return runCommand(rest);
        if (command == QLatin1String("tokenize"))
            return tokenizeCommand(rest);
        if (command == QLatin1String("models"))
            return modelsCommand(rest);
        if (command == QLatin1String("analyze"))
            return analyzeCommand(rest);
        if (command == QLatin1String("classify"))
            return classifyCommand(rest);
        if (command == QLatin1String("control"))
            return controlCommand(rest);
        if (command == QLatin1String("demo"))
            return demoCommand(rest);
        if (command == QLatin1String("figure"))
            return figureCommand(rest);
        throw UsageError("unknown command '" + command.toStdString() + "'");
    } catch (const UsageError& e) {
        err(QStringLiteral("error: %1").arg(QString::fromStdString(std::string(e.what()))));
        std::fputs(kUsage, stderr);
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
