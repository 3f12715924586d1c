// SPDX-License-Identifier: GPL-3.0-or-later
// Prompt-set files: plain text (one prompt per line) or JSONL with a "text" field. A bad line is
// reported with its number and the rest of the file is still used.
#include "sinkscope/analysis.h"

#include "json.h"
#include "sinkscope/error.h"
#include "sinkscope/text.h"
#include "sinkscope/fileio.h"

#include <QCryptographicHash>
#include <QString>

namespace sinkscope::analysis {

namespace {

bool blank(const std::string& s)
{
    return s.find_first_not_of(" \t\r\f\v") == std::string::npos;
}

} // namespace

PromptSet parsePromptSet(const std::string& bytes, bool forceJsonl)
{
    std::vector<std::string> lines;
    size_t start = 0;
    while (start <= bytes.size()) {
        size_t end = bytes.find('\n', start);
        if (end == std::string::npos)
            end = bytes.size();
        std::string line = bytes.substr(start, end - start);
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        lines.push_back(std::move(line));
        start = end + 1;
    }
    if (lines.size() == 1 && lines.front().empty())
        lines.clear();
    // A byte-order mark belongs to the file, not to the first prompt.
    if (!lines.empty() && lines.front().rfind("\xEF\xBB\xBF", 0) == 0)
        lines.front().erase(0, 3);

    PromptSet set;
    set.jsonl = forceJsonl;
    if (!forceJsonl)
        for (const std::string& line : lines)
            if (!blank(line)) {
                set.jsonl = line.find_first_not_of(" \t") != std::string::npos && line[line.find_first_not_of(" \t")] == '{';
                break;
            }

    for (size_t i = 0; i < lines.size(); ++i) {
        const int number = int(i + 1);
        const std::string& line = lines[i];
        if (blank(line))
            continue;
        if (line.size() > limits::kPromptBytes) {
            // Refused before any tokenizing: a prompt this long is far past every model's positions.
            set.issues.push_back({number, "longer than " + std::to_string(limits::kPromptBytes >> 20)
                                              + " MiB, the limit for one prompt"});
            continue;
        }
        if (!isValidUtf8(line)) {
            set.issues.push_back({number, "not valid UTF-8"});
            continue;
        }
        if (!set.jsonl) {
            set.prompts.push_back({number, line});
            continue;
        }
        json::Document doc;
        try {
            doc = json::parse(line, {"not valid JSON: ", "", {}});
        } catch (const Error& e) {
            set.issues.push_back({number, e.what()});
            continue;
        }
        if (!doc.root().isObject()) {
            set.issues.push_back({number, "not a JSON object"});
            continue;
        }
        const json::Value text = doc.root().find("text");
        if (!text.isString()) {
            set.issues.push_back({number, text.isAbsent() ? "no \"text\" field" : "\"text\" is not a string"});
            continue;
        }
        if (text.string().empty()) {
            set.issues.push_back({number, "\"text\" is empty"});
            continue;
        }
        set.prompts.push_back({number, text.str()});
    }
    return set;
}

PromptSet readPromptSet(const std::string& path)
{
    const bool jsonl = path.size() >= 6 && path.compare(path.size() - 6, 6, ".jsonl") == 0;
    const std::string bytes = readFile(path, files::kPrompts);
    PromptSet set = parsePromptSet(bytes, jsonl);
    // The file's identity, hashed from the bytes that were parsed: shards of one analysis name
    // their prompt file by it (sinkscope/shard.h).
    set.sha256 = QCryptographicHash::hash(QByteArray::fromRawData(bytes.data(), qsizetype(bytes.size())),
                                          QCryptographicHash::Sha256)
                     .toHex()
                     .toStdString();
    return set;
}

} // namespace sinkscope::analysis
