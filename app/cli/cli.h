// SPDX-License-Identifier: GPL-3.0-or-later
// sinkscope-cli: headless runs and exports. Each sub-command is one function taking the
// arguments after its name; errors are thrown as sinkscope::Error / UsageError and turned into
// "error: ..." and a non-zero exit code by dispatch().
#pragma once

#include "sinkscope/analysis.h"
#include "sinkscope/model.h"

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

/// Options of a sub-command: "--name value" pairs and "--flag" switches, nothing positional.
class Options {
public:
    /// `valued` lists options that take a value, `flags` those that do not. Unknown ones are errors.
    Options(const QStringList& args, const QStringList& valued, const QStringList& flags = {});
    bool has(const QString& name) const;
    QString value(const QString& name, const QString& fallback = {}) const;
    /// The value of a required option; UsageError when missing.
    QString required(const QString& name) const;

private:
    std::map<QString, QString> m_values;
};

/// Applies --threads (0 or absent: one per physical core) to the calling thread, which runs the model.
void applyThreadsOption(const Options& o);

int runCommand(const QStringList& args);
int tokenizeCommand(const QStringList& args);
int modelsCommand(const QStringList& args);
int analyzeCommand(const QStringList& args);
int demoCommand(const QStringList& args);
int figureCommand(const QStringList& args);
int classifyCommand(const QStringList& args);
int controlCommand(const QStringList& args);

/// The prompts of `--prompt TEXT` (line 0) or `--prompts FILE` (exactly one must be given); bad
/// lines of the file are reported as "warning: FILE:LINE: ... (line skipped)". Throws
/// UsageError / Error(InvalidArgument) for an empty prompt or a file without a usable prompt.
analysis::PromptSet promptsFromOptions(const Options& o);
/// `--device` / `--dtype` (auto | fp32 | fp16 | bf16) and the model load, its notes printed.
std::unique_ptr<Model> modelFromOptions(const Options& o);

/// Runs the sub-command named by args[1]; returns the process exit code.
int dispatch(const QStringList& args);

/// Writes a line to stdout / stderr (UTF-8).
void out(const QString& line);
void err(const QString& line);

} // namespace sinkscope::cli
