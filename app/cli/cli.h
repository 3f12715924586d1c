// SPDX-License-Identifier: GPL-3.0-or-later
// sinkscope-cli: headless runs and exports. Each sub-command is one function taking the
// arguments after its name; errors are thrown as sinkscope::Error / UsageError and turned into
// "error: ..." and a non-zero exit code by dispatch().
#pragma once

#include "sinkscope/analysis.h"
#include "sinkscope/model.h"

#include <QList>
#include <QString>
#include <QStringList>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>

namespace sinkscope::cli {

/// A command line that does not follow the usage.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// One option of a sub-command: `--name VALUE` when `valueName` is set, else a `--name` switch.
struct OptionSpec {
    QString name;
    QString valueName; ///< shown in the help ("DIR", "auto|on|off"); empty: a switch
    QString help;      ///< one line for the help
};

/// A sub-command as the parser and the help both read it, so the usage cannot leave options out.
struct CommandSpec {
    QString name;
    QString summary;            ///< one line: what the command does
    QList<OptionSpec> options;
    QString notes;              ///< lines printed after the options in `<command> --help`
    QString arguments = {};     ///< positional words after the options in the usage ("DIR..."); empty: none
};

/// `<command> --help` was asked for: dispatch() prints the command's help and exits 0.
class HelpRequested : public std::runtime_error {
public:
    explicit HelpRequested(const CommandSpec& spec) : std::runtime_error("help"), spec(spec) {}
    CommandSpec spec;
};

/// Options of a sub-command, parsed by QCommandLineParser from the command's spec: "--name value"
/// (or "--name=value") pairs and "--flag" switches, nothing positional, no option twice.
/// UsageError names the first problem; `--help` throws HelpRequested.
class Options {
public:
    Options(const QStringList& args, const CommandSpec& spec);
    /// For a command that has not declared its CommandSpec yet (names only, no help lines; such a
    /// command is missing from the overview until it does).
    Options(const QStringList& args, const QStringList& valued, const QStringList& flags = {});
    bool has(const QString& name) const;
    QString value(const QString& name, const QString& fallback = {}) const;
    /// The value of a required option; UsageError when missing.
    QString required(const QString& name) const;

private:
    std::map<QString, QString> m_values;
};

/// `sinkscope-cli <command> --help`: the usage line, the summary, every option of the spec.
QString commandHelp(const CommandSpec& spec);

/// Applies --threads (0 or absent: one per physical core) to the calling thread, which runs the model.
void applyThreadsOption(const Options& o);

// Each command: its spec (options and help) and the function that runs it.
const CommandSpec& runSpec();
int runCommand(const QStringList& args);
const CommandSpec& tokenizeSpec();
int tokenizeCommand(const QStringList& args);
const CommandSpec& modelsSpec();
int modelsCommand(const QStringList& args);
const CommandSpec& analyzeSpec();
int analyzeCommand(const QStringList& args);
const CommandSpec& demoSpec();
int demoCommand(const QStringList& args);
const CommandSpec& figureSpec();
int figureCommand(const QStringList& args);
const CommandSpec& classifySpec();
int classifyCommand(const QStringList& args);
const CommandSpec& controlSpec();
int controlCommand(const QStringList& args);
const CommandSpec& mergeSpec();
int mergeCommand(const QStringList& args);

/// The prompts of `--prompt TEXT` (line 0) or `--prompts FILE` (exactly one must be given); bad
/// lines of the file are reported as "warning: FILE:LINE: ... (line skipped)". Throws
/// UsageError / Error(InvalidArgument) for an empty prompt or a file without a usable prompt.
analysis::PromptSet promptsFromOptions(const Options& o);
/// `--device` / `--dtype` (auto | fp32 | fp16 | bf16) and the model load, its notes printed.
std::unique_ptr<Model> modelFromOptions(const Options& o);

/// The --threads option, shared by the commands that run the model.
OptionSpec threadsOption();
/// --batch N (prompts of equal length per forward pass), shared by analyze and classify, and its
/// value: a whole number from 1 to 1024, `fallback` when absent; UsageError otherwise.
OptionSpec batchOption();
int batchFromOptions(const Options& o, int fallback);
/// --device and --dtype, shared likewise.
OptionSpec deviceOption();
OptionSpec dtypeOption();
OptionSpec bosOption();
/// --model DIR, --out OUTDIR and --force, and the note on result folders, shared likewise.
OptionSpec modelOption();
OptionSpec outOption();
OptionSpec forceOption();
QString resultFolderNote();

/// Runs the sub-command named by args[1]; returns the process exit code.
int dispatch(const QStringList& args);

/// Writes a line to stdout / stderr (UTF-8).
void out(const QString& line);
void err(const QString& line);

} // namespace sinkscope::cli
