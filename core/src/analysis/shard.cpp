// SPDX-License-Identifier: GPL-3.0-or-later
// Shard folders of a prompt-set analysis: shard.json (identity, for people and for merge's
// checks) and shard_runs.bin (the per-prompt metrics, bit for bit). One field list (`io`) both
// writes and reads every structure, so the two directions cannot drift apart.
#include "sinkscope/shard.h"

#include "json.h"
#include "sinkscope/error.h"
#include "sinkscope/fileio.h"
#include "sinkscope/version.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <cstring>
#include <optional>
#include <sstream>
#include <type_traits>

namespace sinkscope::analysis {

namespace {

constexpr char kMagic[] = "SINKSCOPE-SHARD\n"; // 16 bytes
constexpr uint32_t kBinVersion = 1;
constexpr uint32_t kByteOrder = 0x01020304u;
constexpr const char* kJsonName = "shard.json";
constexpr const char* kBinName = "shard_runs.bin";

// ---- archives: Writer appends, Reader consumes with every length checked against what is left.

class Writer {
public:
    std::string bytes;
    template <class T> void pod(T& v) { raw(&v, sizeof v); }
    void raw(const void* p, size_t n) { bytes.append(static_cast<const char*>(p), n); }
    void count(size_t& n, size_t /*minElementBytes*/)
    {
        uint64_t c = n;
        pod(c);
    }
};

class Reader {
public:
    Reader(const std::string& bytes, std::string where) : m_p(bytes.data()), m_left(bytes.size()), m_where(std::move(where)) {}
    template <class T> void pod(T& v) { raw(&v, sizeof v); }
    void raw(void* p, size_t n)
    {
        if (n > m_left)
            fail("it ends early");
        std::memcpy(p, m_p, n);
        m_p += n;
        m_left -= n;
    }
    // A count of elements that take at least `minElementBytes` each: never more than what is left.
    void count(size_t& n, size_t minElementBytes)
    {
        uint64_t c = 0;
        pod(c);
        if (c > m_left / std::max<size_t>(1, minElementBytes))
            fail("a length field exceeds the file");
        n = size_t(c);
    }
    size_t left() const { return m_left; }
    [[noreturn]] void fail(const std::string& why) const
    {
        throw Error(ErrorCode::Format, m_where + " is damaged: " + why + " (write it again with analyze --shard).", m_where);
    }

private:
    const char* m_p;
    size_t m_left;
    std::string m_where;
};

// Every overload is declared before any is defined: the templates call each other, and the
// element types' own namespaces do not hold these functions (no argument-dependent lookup).
template <class Ar, class T> std::enable_if_t<std::is_arithmetic_v<T>> io(Ar& a, T& v);
template <class Ar> void io(Ar& a, size_t& n);
template <class Ar> void io(Ar& a, std::string& s);
template <class Ar> void io(Ar& a, std::vector<size_t>& v);
template <class Ar, class T> void io(Ar& a, std::vector<T>& v);
template <class Ar> void io(Ar& a, Eigen::VectorXf& v);
template <class Ar> void io(Ar& a, Eigen::VectorXi& v);
template <class Ar> void io(Ar& a, RowMatrixXf& m);
template <class Ar> void io(Ar& a, Tensor& t);
template <class Ar> void io(Ar& a, ModelDimensions& d);
template <class Ar> void io(Ar& a, Options& o);
template <class Ar> void io(Ar& a, SinkRate& r);
template <class Ar> void io(Ar& a, SinkCurve& c);
template <class Ar> void io(Ar& a, HeadElement& e);
template <class Ar> void io(Ar& a, KeySummary& k);
template <class Ar> void io(Ar& a, DimStats& s);
template <class Ar> void io(Ar& a, ValueDims& v);
template <class Ar> void io(Ar& a, Activation& x);
template <class Ar> void io(Ar& a, HiddenStats& h);
template <class Ar> void io(Ar& a, MassiveActivation& m);
template <class Ar> void io(Ar& a, FirstVsOthers& f);
template <class Ar> void io(Ar& a, RunMetrics& m);
template <class Ar> void io(Ar& a, PromptRun& r);
template <class Ar> void io(Ar& a, ModelInfo& i);
template <class Ar> void io(Ar& a, MetricsReport& r);
template <class Ar> void io(Ar& a, ShardOutput& s);

template <class Ar, class T> std::enable_if_t<std::is_arithmetic_v<T>> io(Ar& a, T& v)
{
    a.pod(v);
}

template <class Ar> void io(Ar& a, std::string& s)
{
    size_t n = s.size();
    a.count(n, 1);
    s.resize(n);
    a.raw(s.data(), n);
}

template <class Ar, class T> void io(Ar& a, std::vector<T>& v)
{
    size_t n = v.size();
    if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, size_t>) {
        a.count(n, sizeof(T));
        v.resize(n);
        a.raw(v.data(), n * sizeof(T));
    } else {
        a.count(n, 1);
        v.resize(n);
        for (T& x : v)
            io(a, x);
    }
}

// Eigen vectors and matrices: rows, cols, then the coefficients in storage order.
template <class Ar, class M> void ioEigen(Ar& a, M& m)
{
    int64_t rows = m.rows(), cols = m.cols();
    a.pod(rows);
    a.pod(cols);
    if (rows < 0 || cols < 0 || (M::RowsAtCompileTime == 1 && rows != 1) || (M::ColsAtCompileTime == 1 && cols != 1))
        throw Error(ErrorCode::Format, "A shard data file has a matrix of impossible shape.");
    size_t n = size_t(rows) * size_t(cols);
    a.count(n, sizeof(typename M::Scalar));
    if (n != size_t(rows) * size_t(cols))
        throw Error(ErrorCode::Format, "A shard data file has a matrix whose size does not match its shape.");
    m.resize(rows, cols);
    a.raw(m.data(), n * sizeof(typename M::Scalar));
}
template <class Ar> void io(Ar& a, Eigen::VectorXf& v) { ioEigen(a, v); }
template <class Ar> void io(Ar& a, Eigen::VectorXi& v) { ioEigen(a, v); }
template <class Ar> void io(Ar& a, RowMatrixXf& m) { ioEigen(a, m); }

template <class Ar> void io(Ar& a, Tensor& t)
{
    io(a, t.shape);
    io(a, t.data);
    int64_t n = t.shape.empty() ? 0 : 1;
    for (int64_t s : t.shape)
        n = s < 0 ? -1 : n * s;
    if (n != int64_t(t.data.size()))
        throw Error(ErrorCode::Format, "A shard data file has a tensor whose size does not match its shape.");
}

template <class Ar> void io(Ar& a, ModelDimensions& d)
{
    io(a, d.layers), io(a, d.heads), io(a, d.kvHeads), io(a, d.headDim), io(a, d.hiddenSize), io(a, d.vocabSize),
        io(a, d.maxPositions);
}
template <class Ar> void io(Ar& a, Options& o)
{
    io(a, o.sinkElement), io(a, o.epsilon), io(a, o.massive.absolute), io(a, o.massive.relative), io(a, o.waiverThreshold);
}
template <class Ar> void io(Ar& a, SinkRate& r)
{
    io(a, r.k), io(a, r.epsilon), io(a, r.tokens), io(a, r.pairs), io(a, r.above), io(a, r.percent);
}
template <class Ar> void io(Ar& a, SinkCurve& c) { io(a, c.mean), io(a, c.std), io(a, c.lastMean), io(a, c.lastStd); }
template <class Ar> void io(Ar& a, HeadElement& e) { io(a, e.layer), io(a, e.head), io(a, e.element), io(a, e.value); }
template <class Ar> void io(Ar& a, KeySummary& k)
{
    io(a, k.layer), io(a, k.head), io(a, k.element), io(a, k.keyNorm), io(a, k.keyNormOthers), io(a, k.meanCosine),
        io(a, k.meanCosineOthers), io(a, k.meanQueryNorm);
}
template <class Ar> void io(Ar& a, DimStats& s) { io(a, s.count), io(a, s.mean), io(a, s.std), io(a, s.maxAbs); }
template <class Ar> void io(Ar& a, ValueDims& v)
{
    io(a, v.layer), io(a, v.kvHead), io(a, v.waiverElements), io(a, v.rest), io(a, v.waiver);
}
template <class Ar> void io(Ar& a, Activation& x) { io(a, x.element), io(a, x.dim), io(a, x.value); }
template <class Ar> void io(Ar& a, HiddenStats& h) { io(a, h.maxAbs), io(a, h.argmax), io(a, h.top), io(a, h.median); }
template <class Ar> void io(Ar& a, MassiveActivation& m)
{
    io(a, m.layer), io(a, m.dim), io(a, m.element), io(a, m.value), io(a, m.prompts);
}
template <class Ar> void io(Ar& a, FirstVsOthers& f) { io(a, f.first), io(a, f.others); }

// Every field of RunMetrics, in declaration order.
template <class Ar> void io(Ar& a, RunMetrics& m)
{
    io(a, m.dimensions());
    io(a, m.tokens), io(a, m.causal), io(a, m.options), io(a, m.prompts);
    io(a, m.importance), io(a, m.firstMassPerQuery), io(a, m.firstTokenMass), io(a, m.lastQueryMass);
    io(a, m.sinkRate), io(a, m.sinkCurve);
    io(a, m.entropy), io(a, m.share), io(a, m.topAttended);
    io(a, m.valueNorms), io(a, m.contributionNorms), io(a, m.writtenNorms), io(a, m.waiverScores);
    io(a, m.waiverBasis), io(a, m.waiver), io(a, m.keys), io(a, m.valueDims), io(a, m.hidden), io(a, m.massive);
    io(a, m.hiddenNorms), io(a, m.keyNorms), io(a, m.valueNormsFirst), io(a, m.unavailable);
}
template <class Ar> void io(Ar& a, PromptRun& r) { io(a, r.line), io(a, r.text), io(a, r.tokens), io(a, r.metrics); }
template <class Ar> void io(Ar& a, ModelInfo& i)
{
    io(a, i.dimensions());
    io(a, i.name), io(a, i.dir), io(a, i.modelType), io(a, i.position), io(a, i.attention), io(a, i.synthetic), io(a, i.notes);
}
template <class Ar> void io(Ar& a, MetricsReport& r)
{
    io(a, r.model), io(a, r.device), io(a, r.dtype), io(a, r.bos), io(a, r.length), io(a, r.options);
    io(a, r.promptSet), io(a, r.singlePrompt), io(a, r.perPromptTensors), io(a, r.runJson);
}
template <class Ar> void io(Ar& a, size_t& n)
{
    uint64_t v = n;
    a.pod(v);
    n = size_t(v);
}
template <class Ar> void io(Ar& a, ShardOutput& s)
{
    io(a, s.shard.index), io(a, s.shard.count), io(a, s.promptFile), io(a, s.promptSha256), io(a, s.promptCount);
    io(a, s.members), io(a, s.runIndices), io(a, s.runs), io(a, s.report);
}

// vector<size_t>: the generic vector overload would treat size_t as a platform-sized POD; write
// it as uint64 element by element so the file means the same everywhere.
template <class Ar> void io(Ar& a, std::vector<size_t>& v)
{
    size_t n = v.size();
    a.count(n, sizeof(uint64_t));
    v.resize(n);
    for (size_t& x : v)
        io(a, x);
}

QJsonObject identityJson(const ShardOutput& s)
{
    const MetricsReport& r = s.report;
    const ModelInfo& m = r.model;
    QJsonArray lines;
    for (const PromptRun& run : s.runs)
        lines.append(run.line);
    return QJsonObject{
        {"format", "sinkscope-shard"},
        {"version", 1},
        {"program", QStringLiteral("sinkscope %1").arg(QString::fromLatin1(appVersion()))},
        {"shard", QJsonObject{{"index", s.shard.index}, {"count", s.shard.count}}},
        {"prompt_file", QJsonObject{{"name", QString::fromStdString(s.promptFile)},
                                    {"sha256", QString::fromStdString(s.promptSha256)},
                                    {"prompts", s.promptCount}}},
        {"prompts_in_shard", int(s.members.size())},
        {"analysed", int(s.runs.size())},
        {"analysed_lines", lines},
        {"model", QJsonObject{{"name", QString::fromStdString(m.name)},
                              {"dir", QString::fromStdString(m.dir)},
                              {"model_type", QString::fromStdString(m.modelType)},
                              {"layers", m.layers},
                              {"heads", m.heads},
                              {"kv_heads", m.kvHeads},
                              {"head_dim", m.headDim},
                              {"hidden_size", m.hiddenSize}}},
        {"device", QString::fromStdString(r.device)},
        {"dtype", QString::fromStdString(r.dtype)},
        {"settings", QJsonObject{{"k", r.options.sinkElement},
                                 {"epsilon", r.options.epsilon},
                                 {"massive_abs", r.options.massive.absolute},
                                 {"massive_rel", r.options.massive.relative},
                                 {"waiver_threshold", r.options.waiverThreshold},
                                 {"bos", QString::fromStdString(r.bos)},
                                 {"length", r.length > 0 ? QJsonValue(qint64(r.length)) : QJsonValue()},
                                 {"per_prompt_tensors", r.perPromptTensors}}},
        {"data", kBinName}};
}

std::string shardName(const ShardSpec& s)
{
    return std::to_string(s.index) + "/" + std::to_string(s.count);
}

// What two shards must share to be merged, as "what: a vs b" for the first difference ("" none).
std::string settingsDifference(const MetricsReport& a, const MetricsReport& b)
{
    auto differ = [](const std::string& what, const auto& x, const auto& y) -> std::string {
        if (x == y)
            return {};
        std::ostringstream o;
        o.precision(15);
        o << what << " " << x << " vs " << y;
        return o.str();
    };
    const Options& p = a.options;
    const Options& q = b.options;
    for (const std::string& d :
         {differ("device", a.device, b.device), differ("dtype", a.dtype, b.dtype), differ("--bos", a.bos, b.bos),
          differ("--length", a.length, b.length), differ("--k", p.sinkElement, q.sinkElement),
          differ("--epsilon", p.epsilon, q.epsilon), differ("--massive-abs", p.massive.absolute, q.massive.absolute),
          differ("--massive-rel", p.massive.relative, q.massive.relative),
          differ("waiver threshold", p.waiverThreshold, q.waiverThreshold),
          differ("--per-prompt-tensors", a.perPromptTensors, b.perPromptTensors),
          differ("prompt set", a.promptSet, b.promptSet), differ("single prompt", a.singlePrompt, b.singlePrompt)})
        if (!d.empty())
            return d;
    return {};
}

std::string modelDifference(const ModelInfo& a, const ModelInfo& b)
{
    if (a.name != b.name)
        return "model " + a.name + " vs " + b.name;
    if (a.modelType != b.modelType || a.position != b.position || a.attention != b.attention || a.synthetic != b.synthetic)
        return "model type " + a.modelType + " (" + a.position + ", " + a.attention + ") vs " + b.modelType + " ("
               + b.position + ", " + b.attention + ")";
    if (a.dimensions() != b.dimensions())
        return "model dimensions " + std::to_string(a.layers) + " layers x " + std::to_string(a.heads) + " heads vs "
               + std::to_string(b.layers) + " layers x " + std::to_string(b.heads) + " heads (or another size)";
    return {};
}

} // namespace

ShardSpec parseShardSpec(const std::string& text)
{
    const size_t slash = text.find('/');
    auto whole = [](const std::string& s) {
        return !s.empty() && s.size() <= 9 && s.find_first_not_of("0123456789") == std::string::npos;
    };
    if (slash == std::string::npos || !whole(text.substr(0, slash)) || !whole(text.substr(slash + 1)))
        throw Error(ErrorCode::InvalidArgument,
                    "--shard needs I/N with whole numbers, 0 <= I < N (I is 0-based), got '" + text + "'");
    ShardSpec s;
    s.index = std::stoi(text.substr(0, slash));
    s.count = std::stoi(text.substr(slash + 1));
    if (s.count < 1)
        throw Error(ErrorCode::InvalidArgument, "--shard " + text + ": the shard count N must be at least 1");
    if (s.index >= s.count)
        throw Error(ErrorCode::InvalidArgument, "--shard " + text + ": shard I must be below N (I is 0-based: 0 to "
                                                    + std::to_string(s.count - 1) + ")");
    return s;
}

std::vector<size_t> shardMembers(size_t prompts, const ShardSpec& shard)
{
    std::vector<size_t> m;
    for (size_t k = size_t(shard.index); k < prompts; k += size_t(shard.count))
        m.push_back(k);
    return m;
}

std::map<std::string, std::string> shardFiles(const ShardOutput& shard)
{
    Writer w;
    w.raw(kMagic, 16);
    uint32_t version = kBinVersion, order = kByteOrder;
    w.pod(version);
    w.pod(order);
    io(w, const_cast<ShardOutput&>(shard)); // the Writer only reads
    std::map<std::string, std::string> files;
    files[kBinName] = std::move(w.bytes);
    files[kJsonName] = QJsonDocument(identityJson(shard)).toJson(QJsonDocument::Indented).toStdString();
    return files;
}

ShardOutput readShardFolder(const std::string& dir)
{
    const QDir d(QString::fromStdString(dir));
    const std::string jsonPath = d.filePath(kJsonName).toStdString();
    const std::string bin = d.filePath(kBinName).toStdString();
    if (!QFileInfo(QString::fromStdString(dir)).isDir())
        throw Error(ErrorCode::InvalidArgument, dir + " is not a shard output: not a folder.", dir);
    if (!pathExists(jsonPath))
        throw Error(ErrorCode::InvalidArgument,
                    dir + " is not a shard output (it has no shard.json; write shards with analyze --shard I/N).", dir);
    // shard.json through the core's one JSON reader; a file that is not JSON is no shard output.
    const std::string idText = readFile(jsonPath, files::kShardInfo);
    json::Document idDoc;
    try {
        idDoc = json::parseObject(idText, jsonPath);
    } catch (const Error&) {
        throw Error(ErrorCode::InvalidArgument, dir + " is not a shard output (shard.json is not a sinkscope-shard file).", dir);
    }
    const json::Value id = idDoc.root();
    if (id.find("format").string() != "sinkscope-shard")
        throw Error(ErrorCode::InvalidArgument, dir + " is not a shard output (shard.json is not a sinkscope-shard file).", dir);
    const std::optional<int64_t> fileVersion = id.find("version").integer();
    if (fileVersion != int64_t(1))
        throw Error(ErrorCode::Format,
                    jsonPath + " has format version " + (fileVersion ? std::to_string(*fileVersion) : std::string("(none)"))
                        + "; this program reads version 1.",
                    jsonPath);
    if (!pathExists(bin))
        throw Error(ErrorCode::Format, dir + " holds shard.json but not " + kBinName + "; the shard is incomplete.", dir);
    const std::string bytes = readFile(bin, files::kShardData);
    Reader r(bytes, bin);
    char magic[16];
    r.raw(magic, 16);
    uint32_t version = 0, order = 0;
    r.pod(version);
    r.pod(order);
    if (std::memcmp(magic, kMagic, 16) != 0)
        r.fail("it does not start as a shard data file");
    if (version != kBinVersion)
        r.fail("format version " + std::to_string(version) + ", this program reads version 1");
    if (order != kByteOrder)
        r.fail("it was written on a machine of the other byte order");
    ShardOutput s;
    io(r, s);
    if (r.left() != 0)
        r.fail("bytes follow the end of the data");
    // shard.json and the data must describe the same shard (a shard.json copied over from another
    // shard would otherwise make merge trust the wrong identity).
    const json::Value sj = id.find("shard");
    if (sj.find("index").integer() != int64_t(s.shard.index) || sj.find("count").integer() != int64_t(s.shard.count)
        || id.find("prompt_file").find("sha256").string() != s.promptSha256)
        throw Error(ErrorCode::Format, dir + ": shard.json and " + kBinName + " describe different shards.", dir);
    if (s.shard.count < 1 || s.shard.index < 0 || s.shard.index >= s.shard.count || s.promptCount < 0
        || s.members != shardMembers(size_t(s.promptCount), s.shard) || s.runIndices.size() != s.runs.size()
        || !std::is_sorted(s.runIndices.begin(), s.runIndices.end())
        || std::adjacent_find(s.runIndices.begin(), s.runIndices.end()) != s.runIndices.end())
        throw Error(ErrorCode::Format, dir + ": " + kBinName + " holds an inconsistent shard.", dir);
    for (size_t k : s.runIndices)
        if (!std::binary_search(s.members.begin(), s.members.end(), k))
            throw Error(ErrorCode::Format, dir + ": " + kBinName + " holds a prompt of another shard.", dir);
    return s;
}

MergedShards mergeShards(const std::vector<ShardOutput>& shards, const std::vector<std::string>& names)
{
    if (shards.empty())
        throw Error(ErrorCode::InvalidArgument, "merge needs the shard folders of one analyze --shard run.");
    auto name = [&](size_t i) { return i < names.size() ? names[i] : "shard " + shardName(shards[i].shard); };
    const ShardOutput& f = shards.front();
    for (size_t i = 1; i < shards.size(); ++i) {
        const ShardOutput& s = shards[i];
        if (s.shard.count != f.shard.count)
            throw Error(ErrorCode::InvalidArgument, name(0) + " is shard " + shardName(f.shard) + " but " + name(i)
                                                        + " is shard " + shardName(s.shard)
                                                        + ": they come from runs with different shard counts.");
        if (s.promptSha256 != f.promptSha256 || s.promptCount != f.promptCount)
            throw Error(ErrorCode::InvalidArgument,
                        name(0) + " and " + name(i) + " are shards of different prompt files (" + f.promptFile + ": "
                            + std::to_string(f.promptCount) + " prompts, sha256 " + f.promptSha256.substr(0, 12) + "; "
                            + s.promptFile + ": " + std::to_string(s.promptCount) + " prompts, sha256 "
                            + s.promptSha256.substr(0, 12) + ").");
        const std::string model = modelDifference(f.report.model, s.report.model);
        if (!model.empty())
            throw Error(ErrorCode::InvalidArgument, name(0) + " and " + name(i) + " are shards of different models (" + model + ").");
        const std::string settings = settingsDifference(f.report, s.report);
        if (!settings.empty())
            throw Error(ErrorCode::InvalidArgument,
                        name(0) + " and " + name(i) + " were analysed with different settings (" + settings + ").");
    }
    std::vector<int> seen(size_t(f.shard.count), -1);
    for (size_t i = 0; i < shards.size(); ++i) {
        int& slot = seen[size_t(shards[i].shard.index)];
        if (slot >= 0)
            throw Error(ErrorCode::InvalidArgument, "shard " + shardName(shards[i].shard) + " is given twice: "
                                                        + name(size_t(slot)) + " and " + name(i) + ".");
        slot = int(i);
    }
    std::string missing;
    for (int k = 0; k < f.shard.count; ++k)
        if (seen[size_t(k)] < 0)
            missing += (missing.empty() ? "" : ", ") + shardName({k, f.shard.count});
    if (!missing.empty())
        throw Error(ErrorCode::InvalidArgument, "shard " + missing + " missing: merge needs all " + std::to_string(f.shard.count)
                                                    + " shards of the run (0-based: 0/" + std::to_string(f.shard.count)
                                                    + " to " + std::to_string(f.shard.count - 1) + "/"
                                                    + std::to_string(f.shard.count) + ").");

    // Global prompt order, exactly as the unsharded job produced its runs.
    std::vector<std::pair<size_t, const PromptRun*>> order;
    MergedShards out;
    out.report = f.report;
    out.report.runJson.clear();
    out.prompts = size_t(f.promptCount);
    for (const ShardOutput& s : shards) {
        for (size_t j = 0; j < s.runs.size(); ++j)
            order.push_back({s.runIndices[j], &s.runs[j]});
        if (!s.report.runJson.empty())
            out.report.runJson = s.report.runJson;
    }
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [k, run] : order)
        out.runs.push_back(*run);
    if (out.runs.empty())
        throw Error(ErrorCode::InvalidArgument, "No prompt has --length " + std::to_string(f.report.length) + " tokens.");
    return out;
}

} // namespace sinkscope::analysis
