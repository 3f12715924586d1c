// SPDX-License-Identifier: GPL-3.0-or-later
// Session files (docs/SESSION.md). The reader treats the file like any other untrusted input:
// the header's sizes are checked against the file's length, the manifest is parsed as strict
// JSON with every field type- and range-checked, every tensor's shape must be the one its run's
// model dimensions imply, and its bytes must lie inside the data block, before anything is copied.
#include "sinkscope/session.h"

#include "json.h"
#include "sinkscope/error.h"
#include "sinkscope/fileio.h"
#include "sinkscope/version.h"

#include <QDateTime>
#include <QDir>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace sinkscope {

namespace {

constexpr char kMagic[16] = {'S', 'I', 'N', 'K', 'S', 'C', 'O', 'P', 'E', 'S', 'E', 'S', 'S', 'I', 'O', 'N'};
constexpr size_t kHeaderBytes = 56;
constexpr uint64_t kAlign = 64;
constexpr uint64_t kMaxManifestBytes = 256ull << 20;

uint64_t fnv1a64(const char* data, size_t size)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < size; ++i) {
        h ^= uint8_t(data[i]);
        h *= 0x100000001b3ull;
    }
    return h;
}

void putU32(std::string& out, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        out[at + size_t(i)] = char((v >> (8 * i)) & 0xff);
}

void putU64(std::string& out, size_t at, uint64_t v)
{
    for (int i = 0; i < 8; ++i)
        out[at + size_t(i)] = char((v >> (8 * i)) & 0xff);
}

uint64_t getLE(const std::string& in, size_t at, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i)
        v = (v << 8) | uint8_t(in[at + size_t(i)]);
    return v;
}

uint64_t alignUp(uint64_t v)
{
    return (v + kAlign - 1) / kAlign * kAlign;
}

// Every array a run can carry, with the shape its model's dimensions give it. One table for the
// writer and the reader, so that a file this build writes is always one it accepts.
struct TensorSlot {
    const char* name;
    std::vector<int64_t> shape;
    const float* data;   // writer side
    size_t count;        // writer side: number of floats (0 = not captured)
    std::vector<float>* target; // reader side
};

std::vector<TensorSlot> slots(const RunResult& r, RunResult* out)
{
    const int64_t L = r.model.layers, H = r.model.heads, Hkv = r.model.kvHeads, hd = r.model.headDim;
    const int64_t D = r.model.hiddenSize, V = r.model.vocabSize, T = r.tokens;
    auto t = [](const Tensor& x) { return std::make_pair(x.data.data(), x.data.size()); };
    auto v = [](const std::vector<float>& x) { return std::make_pair(x.data(), x.size()); };
    std::vector<TensorSlot> s;
    auto add = [&](const char* name, std::vector<int64_t> shape, std::pair<const float*, size_t> src,
                   std::vector<float>* dst) { s.push_back({name, std::move(shape), src.first, src.second, dst}); };
    add("attention", {L, H, T, T}, v(r.attention), out ? &out->attention : nullptr);
    add("logits", {T, V}, v(r.logits), out ? &out->logits : nullptr);
    add("hidden", {L + 1, T, D}, t(r.hidden), out ? &out->hidden.data : nullptr);
    add("queries", {L, H, T, hd}, t(r.queries), out ? &out->queries.data : nullptr);
    add("keys", {L, Hkv, T, hd}, t(r.keys), out ? &out->keys.data : nullptr);
    add("values", {L, Hkv, T, hd}, t(r.values), out ? &out->values.data : nullptr);
    add("head_outputs", {L, H, T, hd}, t(r.headOutputs), out ? &out->headOutputs.data : nullptr);
    add("mask_bias", {T, T}, v(r.maskBias), out ? &out->maskBias : nullptr);
    add("first_token_mass", {L, H}, {r.firstTokenMass.data(), size_t(r.firstTokenMass.size())}, nullptr);
    add("first_mass_per_query", {L, H, T}, t(r.firstMassPerQuery), out ? &out->firstMassPerQuery.data : nullptr);
    add("received", {L, H, T}, t(r.received), out ? &out->received.data : nullptr);
    add("entropy", {L, H, T}, t(r.entropy), out ? &out->entropy.data : nullptr);
    add("value_norms", {L, Hkv, T}, t(r.valueNorms), out ? &out->valueNorms.data : nullptr);
    add("contribution_norms", {L, H, T}, t(r.contributionNorms), out ? &out->contributionNorms.data : nullptr);
    add("written_norms", {L, H, T}, t(r.writtenNorms), out ? &out->writtenNorms.data : nullptr);
    return s;
}

// The Tensor members of a RunResult by slot name (their shape is set when read).
Tensor* tensorMember(RunResult& r, const std::string& name)
{
    if (name == "hidden") return &r.hidden;
    if (name == "queries") return &r.queries;
    if (name == "keys") return &r.keys;
    if (name == "values") return &r.values;
    if (name == "head_outputs") return &r.headOutputs;
    if (name == "first_mass_per_query") return &r.firstMassPerQuery;
    if (name == "received") return &r.received;
    if (name == "entropy") return &r.entropy;
    if (name == "value_norms") return &r.valueNorms;
    if (name == "contribution_norms") return &r.contributionNorms;
    if (name == "written_norms") return &r.writtenNorms;
    return nullptr;
}

uint64_t elementCount(const std::vector<int64_t>& shape)
{
    uint64_t n = 1;
    for (int64_t d : shape)
        n *= uint64_t(d);
    return n;
}

QJsonArray shapeJson(const std::vector<int64_t>& shape)
{
    QJsonArray a;
    for (int64_t d : shape)
        a.append(qint64(d));
    return a;
}

std::string shapeText(const std::vector<int64_t>& shape)
{
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

} // namespace

ModelReference describeModelFolder(const std::string& dir)
{
    ModelReference ref;
    ref.path = dir;
    QString path = QDir::fromNativeSeparators(QString::fromStdString(dir));
    while (path.size() > 1 && path.endsWith(QLatin1Char('/')))
        path.chop(1);
    const QStringList parts = path.split(QLatin1Char('/'));
    // .../models--ORG--NAME/snapshots/REV
    if (parts.size() >= 3 && parts[parts.size() - 2] == QLatin1String("snapshots")) {
        const QString entry = parts[parts.size() - 3];
        if (entry.startsWith(QLatin1String("models--")) && !parts.last().isEmpty()) {
            ref.hfRepo = entry.mid(8).replace(QStringLiteral("--"), QStringLiteral("/")).toStdString();
            ref.hfRevision = parts.last().toStdString();
        }
    }
    return ref;
}

std::vector<SessionRun> comparedRuns(const Session& session)
{
    if (session.pair)
        return {session.runs.at(size_t(session.pair->a)), session.runs.at(size_t(session.pair->b))};
    return {session.runs.begin(), session.runs.begin() + std::min<std::ptrdiff_t>(std::ptrdiff_t(session.runs.size()), 2)};
}

std::string encodeSession(const Session& session, const SessionSaveOptions& options)
{
    if (session.runs.empty())
        throw Error(ErrorCode::InvalidArgument, "There is no run to save in a session.");
    {
        bool isObject = false;
        try {
            isObject = json::parse(session.settingsJson, {}).root().isObject();
        } catch (const Error&) {
        }
        if (!isObject)
            throw Error(ErrorCode::InvalidArgument, "The session's settings are not a JSON object.");
    }
    if (session.pair) {
        const int n = int(session.runs.size());
        const SessionPair& p = *session.pair;
        if (p.a < 0 || p.a >= n || p.b < 0 || p.b >= n || p.a == p.b)
            throw Error(ErrorCode::InvalidArgument, "The session's compare pair (A = run " + std::to_string(p.a)
                                                        + ", B = run " + std::to_string(p.b) + ") is not two different runs of its "
                                                        + std::to_string(n) + ".");
    }

    std::string data;
    QJsonArray runs;
    for (const SessionRun& run : session.runs) {
        if (!run.result)
            throw Error(ErrorCode::InvalidArgument, "A run of the session has no result.");
        const RunResult& r = *run.result;
        if (r.tokens < 1 || r.encoding.tokens.size() != size_t(r.tokens))
            throw Error(ErrorCode::InvalidArgument, "A run of the session has no tokens.");
        QJsonObject tensors;
        for (const TensorSlot& slot : slots(r, nullptr)) {
            if (slot.count == 0)
                continue;
            if (std::strcmp(slot.name, "attention") == 0 && !options.attentionMaps && !r.queries.empty() && !r.keys.empty())
                continue; // recomputed from Q/K on load
            if (std::strcmp(slot.name, "logits") == 0 && !options.logits)
                continue;
            if (elementCount(slot.shape) != slot.count)
                throw Error(ErrorCode::InvalidArgument,
                            std::string("The run's ") + slot.name + " do not have the shape " + shapeText(slot.shape)
                                + " its model implies.");
            data.resize(size_t(alignUp(data.size())), '\0');
            QJsonObject t;
            t["shape"] = shapeJson(slot.shape);
            t["offset"] = qint64(data.size());
            t["bytes"] = qint64(slot.count * sizeof(float));
            tensors[QString::fromLatin1(slot.name)] = t;
            // float32 little-endian: the host order on every platform we build for.
            data.append(reinterpret_cast<const char*>(slot.data), slot.count * sizeof(float));
        }

        const ModelInfo& m = r.model;
        QJsonObject model;
        model["name"] = QString::fromStdString(m.name);
        model["dir"] = QString::fromStdString(m.dir);
        model["model_type"] = QString::fromStdString(m.modelType);
        model["layers"] = m.layers;
        model["heads"] = m.heads;
        model["kv_heads"] = m.kvHeads;
        model["head_dim"] = m.headDim;
        model["hidden_size"] = m.hiddenSize;
        model["vocab_size"] = m.vocabSize;
        model["max_positions"] = m.maxPositions;
        model["position"] = QString::fromStdString(m.position);
        model["attention"] = QString::fromStdString(m.attention);
        model["synthetic"] = m.synthetic;
        QJsonArray notes;
        for (const std::string& n : m.notes)
            notes.append(QString::fromStdString(n));
        model["notes"] = notes;

        QJsonArray tokens;
        for (const Token& tk : r.encoding.tokens) {
            QJsonObject o;
            o["id"] = tk.id;
            o["piece"] = QString::fromStdString(tk.piece);
            o["display"] = QString::fromStdString(tk.display);
            o["start"] = qint64(tk.start);
            o["end"] = qint64(tk.end);
            o["special"] = tk.special;
            tokens.append(o);
        }
        QJsonArray recipes;
        for (const AttentionRecipe& rc : r.recipes) {
            QJsonObject o;
            o["scale"] = rc.scale;
            o["softcap"] = rc.softcap;
            o["causal"] = rc.causal;
            o["window"] = rc.window;
            recipes.append(o);
        }
        QJsonObject ref;
        ref["path"] = QString::fromStdString(run.model.path);
        ref["hf_repo"] = QString::fromStdString(run.model.hfRepo);
        ref["hf_revision"] = QString::fromStdString(run.model.hfRevision);

        QJsonObject o;
        o["label"] = QString::fromStdString(run.label);
        o["model_ref"] = ref;
        o["prompt"] = QString::fromStdString(run.prompt);
        o["bos_policy"] = QString::fromLatin1(bosPolicyName(run.bos));
        o["model"] = model;
        o["device"] = QString::fromStdString(r.device);
        o["dtype"] = QString::fromStdString(r.dtype);
        o["run_ms"] = r.runMs;
        o["T"] = qint64(r.tokens);
        o["bos_added"] = r.encoding.bosAdded;
        o["tokens"] = tokens;
        o["recipes"] = recipes;
        o["tensors"] = tensors;
        runs.append(o);
    }

    QJsonObject selection;
    selection["layer"] = session.layer;
    selection["head"] = session.head;
    selection["query"] = session.query;
    selection["key"] = session.key;
    QJsonObject root;
    root["format"] = QStringLiteral("sinkscope-session");
    root["version"] = Session::kFormatVersion;
    root["app_version"] = QString::fromLatin1(appVersion());
    root["created"] = QDateTime::currentDateTimeUtc().toString(Qt::ISODate);
    root["view"] = QString::fromStdString(session.view);
    root["selection"] = selection;
    // The writer is Qt's (see ARCHITECTURE.md): the settings, checked above, become its object.
    root["settings"] = QJsonDocument::fromJson(QByteArray::fromStdString(session.settingsJson)).object();
    root["runs"] = runs;
    if (session.pair) {
        QJsonObject pair;
        pair["a"] = session.pair->a;
        pair["b"] = session.pair->b;
        root["pair"] = pair;
    }
    const QByteArray manifest = QJsonDocument(root).toJson(QJsonDocument::Indented);

    const uint64_t dataOffset = alignUp(kHeaderBytes + uint64_t(manifest.size()));
    std::string out(size_t(dataOffset), '\0');
    std::memcpy(out.data(), kMagic, sizeof kMagic);
    putU32(out, 16, uint32_t(Session::kFormatVersion));
    putU32(out, 20, 0);
    putU64(out, 24, uint64_t(manifest.size()));
    putU64(out, 32, dataOffset);
    putU64(out, 40, uint64_t(data.size()));
    putU64(out, 48, fnv1a64(data.data(), data.size()));
    std::memcpy(out.data() + kHeaderBytes, manifest.constData(), size_t(manifest.size()));
    out += data;
    return out;
}

void saveSession(const Session& session, const std::string& path, const SessionSaveOptions& options)
{
    writeFileAtomically(path, encodeSession(session, options));
}

namespace {

// Reads one manifest with every lookup checked; messages name the session file and the field.
class Reader {
public:
    explicit Reader(std::string source) : m_source(std::move(source)) {}

    [[noreturn]] void fail(const std::string& what) const
    {
        throw Error(ErrorCode::Format, "The session file " + m_source + " is damaged: " + what + ".", m_source);
    }
    json::Value field(json::Value o, const char* key, const std::string& where) const
    {
        const json::Value v = o.find(key);
        if (v.isAbsent())
            fail(where + "has no \"" + key + "\"");
        return v;
    }
    std::string str(json::Value o, const char* key, const std::string& where) const
    {
        const json::Value v = field(o, key, where);
        if (!v.isString())
            fail(where + "\"" + key + "\" is " + v.kindName() + ", not a string");
        return v.str();
    }
    bool boolean(json::Value o, const char* key, const std::string& where) const
    {
        const json::Value v = field(o, key, where);
        if (!v.isBool())
            fail(where + "\"" + key + "\" is " + v.kindName() + ", not true or false");
        return v.boolean();
    }
    int64_t integer(json::Value o, const char* key, const std::string& where, int64_t lo, int64_t hi) const
    {
        const auto i = field(o, key, where).integer();
        if (!i || *i < lo || *i > hi)
            fail(where + "\"" + key + "\" must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
        return *i;
    }
    double number(json::Value o, const char* key, const std::string& where) const
    {
        const json::Value v = field(o, key, where);
        if (!v.isNumber() || !std::isfinite(v.number()))
            fail(where + "\"" + key + "\" is not a finite number");
        return v.number();
    }
    json::Value object(json::Value o, const char* key, const std::string& where) const
    {
        const json::Value v = field(o, key, where);
        if (!v.isObject())
            fail(where + "\"" + key + "\" is " + v.kindName() + ", not an object");
        return v;
    }
    std::vector<json::Value> array(json::Value o, const char* key, const std::string& where) const
    {
        const json::Value v = field(o, key, where);
        if (!v.isArray())
            fail(where + "\"" + key + "\" is " + v.kindName() + ", not an array");
        return v.array();
    }
    json::Value element(const std::vector<json::Value>& a, std::size_t i, const std::string& where) const
    {
        if (!a[i].isObject())
            fail(where + " entry " + std::to_string(i) + " is not an object");
        return a[i];
    }

private:
    std::string m_source;
};

constexpr int64_t kMaxDim = int64_t(1) << 31;

} // namespace

Session decodeSession(const std::string& bytes, const std::string& source)
{
    const Reader rd(source);
    if (bytes.empty())
        throw Error(ErrorCode::Format, "The session file " + source + " is empty.", source);
    if (std::memcmp(bytes.data(), kMagic, std::min(bytes.size(), sizeof kMagic)) != 0)
        throw Error(ErrorCode::Format, source + " is not a SinkScope session file.", source);
    if (bytes.size() < kHeaderBytes)
        rd.fail("it ends inside its header");
    const uint64_t version = getLE(bytes, 16, 4);
    if (version == 0)
        rd.fail("its format version is 0");
    if (version > uint64_t(Session::kFormatVersion))
        throw Error(ErrorCode::Unsupported,
                    "The session file " + source + " was written by a newer SinkScope (format version "
                        + std::to_string(version) + "; this version reads up to "
                        + std::to_string(Session::kFormatVersion) + "). Open it with a newer SinkScope.",
                    source);
    const uint64_t manifestBytes = getLE(bytes, 24, 8);
    const uint64_t dataOffset = getLE(bytes, 32, 8);
    const uint64_t dataBytes = getLE(bytes, 40, 8);
    const uint64_t checksum = getLE(bytes, 48, 8);
    if (manifestBytes == 0 || manifestBytes > kMaxManifestBytes)
        rd.fail("its manifest size " + std::to_string(manifestBytes) + " is impossible");
    if (dataOffset != alignUp(kHeaderBytes + manifestBytes))
        rd.fail("its data offset does not follow the manifest");
    if (dataOffset > bytes.size() || dataBytes != bytes.size() - dataOffset) {
        if (dataOffset > bytes.size() || bytes.size() - dataOffset < dataBytes)
            rd.fail("it is truncated (" + std::to_string(bytes.size()) + " bytes, the header announces "
                    + std::to_string(dataOffset + dataBytes) + ")");
        rd.fail("it has " + std::to_string(bytes.size() - dataOffset - dataBytes) + " bytes after its data");
    }
    const char* data = bytes.data() + dataOffset;
    if (fnv1a64(data, size_t(dataBytes)) != checksum)
        rd.fail("its data does not match its checksum");

    const json::Document manifest = json::parseObject(std::string_view(bytes.data() + kHeaderBytes, size_t(manifestBytes)),
                                                      "The manifest of " + source);
    const json::Value root = manifest.root();
    if (rd.str(root, "format", "the manifest ") != "sinkscope-session")
        rd.fail("its manifest is not a session manifest");
    if (uint64_t(rd.integer(root, "version", "the manifest ", 1, 1 << 30)) != version)
        rd.fail("the manifest's version differs from the header's");

    Session s;
    s.appVersion = rd.str(root, "app_version", "the manifest ");
    s.created = rd.str(root, "created", "the manifest ");
    s.view = rd.str(root, "view", "the manifest ");
    const json::Value sel = rd.object(root, "selection", "the manifest ");
    s.layer = int(rd.integer(sel, "layer", "the selection ", 0, kMaxDim));
    s.head = int(rd.integer(sel, "head", "the selection ", 0, kMaxDim));
    s.query = int(rd.integer(sel, "query", "the selection ", -1, kMaxDim));
    s.key = int(rd.integer(sel, "key", "the selection ", -1, kMaxDim));
    s.settingsJson = rd.object(root, "settings", "the manifest ").toJson();

    const std::vector<json::Value> runs = rd.array(root, "runs", "the manifest ");
    if (runs.empty())
        rd.fail("it holds no run");
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const std::string where = "run " + std::to_string(i) + " ";
        const json::Value o = rd.element(runs, i, "the run list");
        auto r = std::make_shared<RunResult>();
        SessionRun run;
        run.label = rd.str(o, "label", where);
        const json::Value ref = rd.object(o, "model_ref", where);
        run.model.path = rd.str(ref, "path", where + "model_ref ");
        run.model.hfRepo = rd.str(ref, "hf_repo", where + "model_ref ");
        run.model.hfRevision = rd.str(ref, "hf_revision", where + "model_ref ");
        run.prompt = rd.str(o, "prompt", where);
        try {
            run.bos = parseBosPolicy(rd.str(o, "bos_policy", where));
        } catch (const Error&) {
            rd.fail(where + "\"bos_policy\" is not auto, on or off");
        }

        const json::Value m = rd.object(o, "model", where);
        const std::string mw = where + "model ";
        ModelInfo& info = r->model;
        info.name = rd.str(m, "name", mw);
        info.dir = rd.str(m, "dir", mw);
        info.modelType = rd.str(m, "model_type", mw);
        info.layers = int(rd.integer(m, "layers", mw, 1, 1 << 16));
        info.heads = int(rd.integer(m, "heads", mw, 1, 1 << 16));
        info.kvHeads = int(rd.integer(m, "kv_heads", mw, 1, info.heads));
        if (info.heads % info.kvHeads != 0)
            rd.fail(mw + "heads is not a multiple of kv_heads");
        info.headDim = int(rd.integer(m, "head_dim", mw, 1, 1 << 16));
        info.hiddenSize = int(rd.integer(m, "hidden_size", mw, 1, 1 << 20));
        info.vocabSize = int(rd.integer(m, "vocab_size", mw, 1, kMaxDim));
        info.maxPositions = int(rd.integer(m, "max_positions", mw, 0, kMaxDim));
        info.position = rd.str(m, "position", mw);
        info.attention = rd.str(m, "attention", mw);
        info.synthetic = rd.boolean(m, "synthetic", mw);
        for (const json::Value n : rd.array(m, "notes", mw)) {
            if (!n.isString())
                rd.fail(mw + "notes holds something that is not a string");
            info.notes.push_back(n.str());
        }

        r->device = rd.str(o, "device", where);
        r->dtype = rd.str(o, "dtype", where);
        r->runMs = rd.number(o, "run_ms", where);
        r->tokens = rd.integer(o, "T", where, 1, 1 << 24);
        r->encoding.bosAdded = rd.boolean(o, "bos_added", where);
        const std::vector<json::Value> tokens = rd.array(o, "tokens", where);
        if (int64_t(tokens.size()) != r->tokens)
            rd.fail(where + "has " + std::to_string(tokens.size()) + " tokens, not T = " + std::to_string(r->tokens));
        for (std::size_t t = 0; t < tokens.size(); ++t) {
            const json::Value to = rd.element(tokens, t, where + "tokens");
            const std::string tw = where + "token " + std::to_string(t) + " ";
            Token tk;
            tk.id = int32_t(rd.integer(to, "id", tw, 0, info.vocabSize - 1));
            tk.piece = rd.str(to, "piece", tw);
            tk.display = rd.str(to, "display", tw);
            tk.start = rd.integer(to, "start", tw, 0, std::numeric_limits<int32_t>::max());
            tk.end = rd.integer(to, "end", tw, tk.start, std::numeric_limits<int32_t>::max());
            tk.special = rd.boolean(to, "special", tw);
            r->encoding.tokens.push_back(std::move(tk));
        }
        const std::vector<json::Value> recipes = rd.array(o, "recipes", where);
        if (!recipes.empty() && recipes.size() != std::size_t(info.layers))
            rd.fail(where + "has " + std::to_string(recipes.size()) + " attention recipes for "
                    + std::to_string(info.layers) + " layers");
        for (std::size_t l = 0; l < recipes.size(); ++l) {
            const json::Value ro = rd.element(recipes, l, where + "recipes");
            const std::string rw = where + "recipe " + std::to_string(l) + " ";
            AttentionRecipe rc;
            rc.scale = rd.number(ro, "scale", rw);
            rc.softcap = rd.number(ro, "softcap", rw);
            rc.causal = rd.boolean(ro, "causal", rw);
            rc.window = int(rd.integer(ro, "window", rw, 0, kMaxDim));
            r->recipes.push_back(rc);
        }

        const json::Value tensors = rd.object(o, "tensors", where);
        const std::vector<TensorSlot> table = slots(*r, r.get());
        for (const auto& [key, value] : tensors.uniqueMembers()) {
            const std::string name(key);
            const auto slot = std::find_if(table.begin(), table.end(), [&](const TensorSlot& ts) { return name == ts.name; });
            if (slot == table.end())
                rd.fail(where + "holds an unknown array \"" + name + "\"");
            if (!value.isObject())
                rd.fail(where + "array \"" + name + "\" is not described by an object");
            const json::Value to = value;
            const std::string tw = where + "array \"" + name + "\" ";
            std::vector<int64_t> shape;
            for (const json::Value d : rd.array(to, "shape", tw)) {
                const auto v = d.integer();
                if (!v || *v < 0 || *v > kMaxDim)
                    rd.fail(tw + "has a bad dimension");
                shape.push_back(*v);
            }
            if (shape != slot->shape)
                rd.fail(tw + "has the shape " + shapeText(shape) + ", not the " + shapeText(slot->shape)
                        + " its model and T imply");
            const uint64_t count = elementCount(shape);
            const uint64_t offset = uint64_t(rd.integer(to, "offset", tw, 0, std::numeric_limits<int64_t>::max()));
            const uint64_t size = uint64_t(rd.integer(to, "bytes", tw, 0, std::numeric_limits<int64_t>::max()));
            if (size != count * sizeof(float))
                rd.fail(tw + "announces " + std::to_string(size) + " bytes for " + std::to_string(count) + " floats");
            if (offset % kAlign != 0 || offset > dataBytes || size > dataBytes - offset)
                rd.fail(tw + "lies outside the data block");
            std::vector<float> values(static_cast<size_t>(count));
            std::memcpy(values.data(), data + offset, size_t(size));
            if (name == "first_token_mass") {
                r->firstTokenMass = Eigen::Map<const RowMatrixXf>(values.data(), shape[0], shape[1]);
            } else {
                *slot->target = std::move(values);
                if (Tensor* member = tensorMember(*r, name))
                    member->shape = shape;
            }
        }
        if ((!r->queries.empty() || !r->keys.empty()) && (r->queries.empty() || r->keys.empty() || r->recipes.empty()))
            rd.fail(where + "holds only part of what recomputes its attention maps (queries, keys and recipes)");
        run.result = std::move(r);
        s.runs.push_back(std::move(run));
    }
    // Optional: absent in a session whose Compare view showed no pair (and in every file written
    // before pairs were kept), which then means runs[1] is B against the main run.
    if (const json::Value pair = root.find("pair"); !pair.isAbsent()) {
        if (!pair.isObject())
            rd.fail(std::string("its \"pair\" is ") + pair.kindName() + ", not an object");
        const int64_t last = int64_t(s.runs.size()) - 1;
        SessionPair p;
        p.a = int(rd.integer(pair, "a", "its pair ", 0, last));
        p.b = int(rd.integer(pair, "b", "its pair ", 0, last));
        if (p.a == p.b)
            rd.fail("its pair's sides A and B are the same run " + std::to_string(p.a));
        s.pair = p;
    }
    const RunResult& main = *s.runs.front().result;
    if (s.layer >= main.model.layers || s.head >= main.model.heads || s.query >= main.tokens || s.key >= main.tokens)
        rd.fail("its selection lies outside its first run");
    return s;
}

Session loadSession(const std::string& path)
{
    return decodeSession(readFile(path, files::kSession), path);
}

} // namespace sinkscope
