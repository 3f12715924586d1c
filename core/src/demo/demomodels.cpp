// SPDX-License-Identifier: GPL-3.0-or-later
// Public side of the demo model generator: the files of a model folder, the ground truth, and the
// check that a cached folder is complete and current. The weights are built in decoder.cpp and
// encoder.cpp, where the planted mechanisms are explained.
#include "sinkscope/demomodels.h"

#include "demo/demobuild.h"
#include "json.h"
#include "sinkscope/error.h"
#include "sinkscope/fileio.h"
#include "sinkscope/safetensors.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>

namespace sinkscope {

namespace {

// Bump whenever anything written changes (weights, configs, tokenizer, README).
constexpr const char* kVersion = "1";

const char* const kFiles[] = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                              "README.md"};

void writeTextFile(const QString& path, const std::string& text)
{
    // The shared atomic writer checks the final flush, so a full disk never leaves a short file.
    writeFileAtomically(path.toStdString(), text);
}

QByteArray fileSha256(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    QCryptographicHash hash(QCryptographicHash::Sha256);
    if (!hash.addData(&f))
        return {};
    return hash.result().toHex();
}

QJsonObject marker(DemoKind kind, const QByteArray& weightsSha256)
{
    return QJsonObject{{"kind", demoKindName(kind)},
                       {"version", kVersion},
                       {"synthetic", true},
                       {"generator", "SinkScope demo model generator"},
                       {"weights_sha256", QString::fromLatin1(weightsSha256)}};
}

std::string decoderConfig(const QByteArray& sha)
{
    const int vocab = int(demo::decoderVocab().size());
    const QJsonObject c{{"architectures", QJsonArray{"GPT2LMHeadModel"}},
                        {"model_type", "gpt2"},
                        {"activation_function", "gelu_new"},
                        {"attn_pdrop", 0.0},
                        {"embd_pdrop", 0.0},
                        {"resid_pdrop", 0.0},
                        {"bos_token_id", 0},
                        {"eos_token_id", 0},
                        {"initializer_range", 0.02},
                        {"layer_norm_epsilon", 1e-5},
                        {"n_ctx", demo::kPositions},
                        {"n_positions", demo::kPositions},
                        {"n_embd", demo::kHidden},
                        {"n_head", demo::kHeads},
                        {"n_layer", demo::kLayers},
                        {"scale_attn_weights", true},
                        {"scale_attn_by_inverse_layer_idx", false},
                        {"reorder_and_upcast_attn", false},
                        {"tie_word_embeddings", true},
                        {"torch_dtype", "float32"},
                        {"use_cache", true},
                        {"vocab_size", vocab},
                        {"sinkscope_demo", marker(DemoKind::Decoder, sha)}};
    return QJsonDocument(c).toJson(QJsonDocument::Indented).toStdString();
}

std::string encoderConfig(const QByteArray& sha)
{
    const int vocab = int(demo::encoderVocab().size());
    const QJsonObject c{{"architectures", QJsonArray{"BertForMaskedLM"}},
                        {"model_type", "bert"},
                        {"attention_probs_dropout_prob", 0.0},
                        {"hidden_dropout_prob", 0.0},
                        {"classifier_dropout", QJsonValue()},
                        {"hidden_act", "gelu"},
                        {"hidden_size", demo::kHidden},
                        {"initializer_range", 0.02},
                        {"intermediate_size", demo::kFfn},
                        {"layer_norm_eps", 1e-12},
                        {"max_position_embeddings", demo::kPositions},
                        {"num_attention_heads", demo::kHeads},
                        {"num_hidden_layers", demo::kLayers},
                        {"pad_token_id", 0},
                        {"position_embedding_type", "absolute"},
                        {"type_vocab_size", 2},
                        {"tie_word_embeddings", true},
                        {"torch_dtype", "float32"},
                        {"use_cache", true},
                        {"vocab_size", vocab},
                        {"sinkscope_demo", marker(DemoKind::Encoder, sha)}};
    return QJsonDocument(c).toJson(QJsonDocument::Indented).toStdString();
}

std::string readme(DemoKind kind)
{
    const DemoGroundTruth truth = demoGroundTruth(kind);
    std::string s;
    s += "# " + demoModelName(kind) + " (synthetic)\n\n";
    s += "This model was **generated, not trained**, by SinkScope's demo model generator (version ";
    s += kVersion;
    s += "). Its weights are random except for mechanisms planted analytically so that the attention\n"
         "views have a known ground truth. Its predictions mean nothing.\n\n";
    if (kind == DemoKind::Decoder)
        s += "Layout: GPT-2 (`model_type` gpt2, GPT2LMHeadModel): 4 layers, hidden size 64, 4 heads of 16,\n"
             "MLP 256 (GELU-tanh), 256 learned absolute positions, tied lm_head. Tokenizer: lower-cased\n"
             "WordLevel over a few hundred common English words; `<|endoftext|>` is put first as BOS.\n\n";
    else
        s += "Layout: BERT (`model_type` bert, BertForMaskedLM): 4 layers, hidden size 64, 4 heads of 16,\n"
             "intermediate 256 (GELU), 256 learned positions, 2 token types, post-LN, MLM head tied to the\n"
             "word embeddings. Tokenizer: lower-cased WordPiece with `[CLS] ... [SEP]`.\n\n";
    s += "## Planted heads (layer and head count from 0)\n\n";
    for (const PlantedHead& h : truth.heads) {
        s += "- layer " + std::to_string(h.layer) + ", head " + std::to_string(h.head) + ": " + h.mechanism +
             " waiver ";
        s += h.mechanism == "positional" ? "at position " + std::to_string(h.waiverPosition)
                                         : "on every `" + h.waiverToken + "` token";
        if (h.fallbackPosition >= 0)
            s += " (position " + std::to_string(h.fallbackPosition) + " when none is visible)";
        s += ". " + h.description + "\n";
    }
    if (!truth.massive.empty()) {
        s += "\n## Planted massive activations\n\n";
        for (const PlantedMassiveActivation& m : truth.massive)
            s += "- hidden dimension " + std::to_string(m.dim) + " at position " + std::to_string(m.position) +
                 ": about " + std::to_string(int(m.approxValue)) + " in hidden states " +
                 std::to_string(m.firstHidden) + ".." + std::to_string(m.lastHidden) +
                 " (index 0 is the embedding output).\n";
    }
    s += "\n## Flag dimensions\n\n";
    for (const auto& [role, dim] : truth.flagDims)
        s += "- " + role + ": hidden dimension " + std::to_string(dim) + "\n";
    s += "\nOrdinary weights read and write only dimensions 0..47; 48 and up are reserved for the flags.\n"
         "The construction and its arithmetic are described in the generator's source\n"
         "(core/src/demo/decoder.cpp and encoder.cpp).\n";
    return s;
}

} // namespace

const char* demoKindName(DemoKind kind)
{
    return kind == DemoKind::Decoder ? "decoder" : "encoder";
}

DemoKind parseDemoKind(const std::string& text)
{
    if (text == "decoder")
        return DemoKind::Decoder;
    if (text == "encoder")
        return DemoKind::Encoder;
    throw Error(ErrorCode::InvalidArgument, "The demo model kind must be decoder or encoder, not '" + text + "'.");
}

std::vector<DemoKind> allDemoKinds()
{
    return {DemoKind::Decoder, DemoKind::Encoder};
}

std::string demoModelVersion()
{
    return kVersion;
}

std::string demoModelName(DemoKind kind)
{
    return std::string("sinkscope-demo-") + demoKindName(kind);
}

void writeDemoModel(DemoKind kind, const std::string& dirPath)
{
    const QString dirName = QString::fromStdString(dirPath);
    if (!QDir().mkpath(dirName))
        throw Error(ErrorCode::Io, "Cannot create the demo model folder.", dirPath);
    const QDir dir(dirName);
    const QString weights = dir.filePath(QStringLiteral("model.safetensors"));
    const bool decoder = kind == DemoKind::Decoder;
    writeSafetensors(weights.toStdString(), decoder ? demo::decoderTensors() : demo::encoderTensors(),
                     {{"format", "pt"}});
    const QByteArray sha = fileSha256(weights);
    if (sha.isEmpty())
        throw Error(ErrorCode::Io, "Cannot read back the demo model weights.", weights.toStdString());
    writeTextFile(dir.filePath(QStringLiteral("tokenizer.json")),
                  decoder ? demo::decoderTokenizerJson() : demo::encoderTokenizerJson());
    writeTextFile(dir.filePath(QStringLiteral("tokenizer_config.json")),
                  decoder ? demo::decoderTokenizerConfigJson() : demo::encoderTokenizerConfigJson());
    writeTextFile(dir.filePath(QStringLiteral("README.md")), readme(kind));
    // config.json last: its marker (with the weights' hash) is what makes the folder count as complete.
    writeTextFile(dir.filePath(QStringLiteral("config.json")), decoder ? decoderConfig(sha) : encoderConfig(sha));
}

bool isDemoModelDir(DemoKind kind, const std::string& dirPath)
{
    const QDir dir(QString::fromStdString(dirPath));
    for (const char* f : kFiles)
        if (!QFileInfo(dir.filePath(QLatin1String(f))).isFile())
            return false;
    QFile cfg(dir.filePath(QStringLiteral("config.json")));
    if (!cfg.open(QIODevice::ReadOnly) || cfg.size() > (1 << 20))
        return false;
    // Anything unreadable or different means "not (this version of) the demo model": it is rebuilt.
    try {
        const QByteArray cfgBytes = cfg.readAll();
        const json::Document doc = json::parse(std::string_view(cfgBytes.constData(), size_t(cfgBytes.size())), {});
        const json::Value m = doc.root().find("sinkscope_demo");
        if (m.find("kind").string() != demoKindName(kind) || m.find("version").string() != kVersion)
            return false;
        if (fileSha256(dir.filePath(QStringLiteral("model.safetensors"))).toStdString() != m.find("weights_sha256").string())
            return false;
        QFile tok(dir.filePath(QStringLiteral("tokenizer.json")));
        if (!tok.open(QIODevice::ReadOnly))
            return false;
        const QByteArray tokBytes = tok.readAll();
        return json::parse(std::string_view(tokBytes.constData(), size_t(tokBytes.size())), {}).root().isObject();
    } catch (const Error&) {
        return false;
    }
}

std::vector<PlantedHead> plantedHeads(DemoKind kind)
{
    return demoGroundTruth(kind).heads;
}

DemoGroundTruth demoGroundTruth(DemoKind kind)
{
    using namespace demo;
    DemoGroundTruth t;
    t.samplePrompts = {
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.",
        "The cat sat on the mat. The dog slept by the door. The bird sang in the tree.",
        "Attention sinks absorb excess attention. Small value vectors let them do so without changing the output.",
    };
    if (kind == DemoKind::Decoder) {
        t.heads.push_back({kDecPositionalLayer, kDecPositionalHead, "positional", 0, "", -1,
                           "Constant query; keys read dimension 48, which only position embedding 0 sets (90), so "
                           "every query puts > 0.99 on position 0 whatever token is there; LayerNorm divides "
                           "that element's content by its large norm, so its value is ~4% of an ordinary one."});
        t.heads.push_back({kDecDotLayer, kDecDotHead, "feature", -1, ".", 0,
                           "Constant query; keys read dimension 49, which only the '.' embedding sets (8), and "
                           "weakly dimension 48: attention goes to every visible '.', else to position 0; '.' "
                           "has no token content, so its value is only a weak position part."});
        t.heads.push_back({kDecMassiveHeadLayer, kDecMassiveHead, "positional", 0, "", -1,
                           "Constant query; keys read the massive dimension 50 (about 2000 on position 0 after "
                           "layer 1), so attention goes to position 0, whose value is ~0.5% of an ordinary one."});
        t.massive.push_back({kDecMassiveMlpLayer + 1, kLayers, kDimMassive, 0, "", kDecMassiveValue});
        t.flagDims = {{"position0", kDimPosition0}, {"dot", kDimDot}, {"massive", kDimMassive}};
    } else {
        t.heads.push_back({kEncSepLayer, kEncSepHead, "feature", -1, "[SEP]", -1,
                           "Constant query; keys read dimension 48, which only the [SEP] word embedding sets "
                           "(50), so every query, [CLS] included, puts > 0.99 on the [SEP] token(s); [SEP] has "
                           "no token content, so its value is ~1% of an ordinary one."});
        t.flagDims = {{"sep", kDimSep}};
    }
    return t;
}

} // namespace sinkscope
