// SPDX-License-Identifier: GPL-3.0-or-later
// sinkscope-cli tokenize: the tokens a model would see, as one JSON object on stdout.
//
//   sinkscope-cli tokenize (--model DIR | --tokenizer FILE) (--text TEXT | --text-file FILE)
//                          [--bos auto|on|off]
//   -> {"ids": [...], "tokens": [...], "offsets": [[s,e],...], "special": [bool,...], "bos_added": bool}
//
// Offsets are [start, end) in Unicode code points of the text. tokenizer_config.json (BOS flags)
// is read from the model folder, or from next to FILE.
#include "cli.h"

#include "sinkscope/error.h"
#include "sinkscope/fileio.h"
#include "sinkscope/tokenizer.h"

#include <QDir>
#include <QFileInfo>

#include <cstdio>
#include <string>

namespace sinkscope::cli {

namespace {

void appendJsonString(std::string& out, const std::string& s)
{
    out.push_back('"');
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20 || c == 0x7F) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(c));
                out += buf;
            } else {
                out.push_back(ch); // the rest is UTF-8 and stays as it is
            }
        }
    }
    out.push_back('"');
}

} // namespace

const CommandSpec& tokenizeSpec()
{
    static const CommandSpec spec{
        QStringLiteral("tokenize"),
        QStringLiteral("encode text and print ids, tokens and offsets as one JSON object"),
        {{QStringLiteral("model"), QStringLiteral("DIR"), QStringLiteral("the model folder whose tokenizer.json is used (or --tokenizer)")},
         {QStringLiteral("tokenizer"), QStringLiteral("FILE"), QStringLiteral("a tokenizer.json (or --model)")},
         {QStringLiteral("text"), QStringLiteral("TEXT"), QStringLiteral("the text (or --text-file)")},
         {QStringLiteral("text-file"), QStringLiteral("FILE"), QStringLiteral("read the text from this file (or --text)")},
         bosOption()},
        {}};
    return spec;
}

int tokenizeCommand(const QStringList& args)
{
    const Options o(args, tokenizeSpec());
    if (o.has("model") == o.has("tokenizer"))
        throw UsageError("give exactly one of --model and --tokenizer");
    if (o.has("text") == o.has("text-file"))
        throw UsageError("give exactly one of --text and --text-file");
    const QString bosText = o.value("bos", QStringLiteral("auto"));
    if (bosText != QLatin1String("auto") && bosText != QLatin1String("on") && bosText != QLatin1String("off"))
        throw UsageError("--bos must be auto, on or off");
    const BosPolicy bos = parseBosPolicy(bosText.toStdString());

    // Every file goes through the core's checked open (fileio.h): a FIFO, a folder or a device
    // where a file is expected is named as such, never waited on.
    std::string tokenizerPath;
    std::string configPath;
    if (o.has("model")) {
        const std::string dir = o.value("model").toStdString();
        checkFolder(dir, "model folder");
        tokenizerPath = QDir(o.value("model")).filePath(QStringLiteral("tokenizer.json")).toStdString();
        if (!pathExists(tokenizerPath))
            throw Error(ErrorCode::Io, "The model folder has no tokenizer.json.", dir);
        configPath = QDir(o.value("model")).filePath(QStringLiteral("tokenizer_config.json")).toStdString();
    } else {
        tokenizerPath = o.value("tokenizer").toStdString();
        configPath = QFileInfo(o.value("tokenizer")).dir().filePath(QStringLiteral("tokenizer_config.json")).toStdString();
    }

    const std::string text =
        o.has("text") ? o.value("text").toUtf8().toStdString() : readFile(o.value("text-file").toStdString(), files::kText);
    const auto tokenizer = Tokenizer::fromFile(tokenizerPath, configPath);
    const Encoding enc = tokenizer->encode(text, bos);

    std::string json;
    json.reserve(enc.tokens.size() * 32 + 64);
    json += "{\"ids\": [";
    for (size_t i = 0; i < enc.tokens.size(); ++i) {
        if (i)
            json += ", ";
        json += std::to_string(enc.tokens[i].id);
    }
    json += "], \"tokens\": [";
    for (size_t i = 0; i < enc.tokens.size(); ++i) {
        if (i)
            json += ", ";
        appendJsonString(json, enc.tokens[i].piece);
    }
    json += "], \"offsets\": [";
    for (size_t i = 0; i < enc.tokens.size(); ++i) {
        if (i)
            json += ", ";
        json += "[" + std::to_string(enc.tokens[i].start) + ", " + std::to_string(enc.tokens[i].end) + "]";
    }
    json += "], \"special\": [";
    for (size_t i = 0; i < enc.tokens.size(); ++i) {
        if (i)
            json += ", ";
        json += enc.tokens[i].special ? "true" : "false";
    }
    json += "], \"bos_added\": ";
    json += enc.bosAdded ? "true" : "false";
    json += "}\n";
    std::fwrite(json.data(), 1, json.size(), stdout);
    std::fflush(stdout);
    return 0;
}

} // namespace sinkscope::cli
