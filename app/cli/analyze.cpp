// SPDX-License-Identifier: GPL-3.0-or-later
// sinkscope-cli analyze: runs one prompt or a prompt set and writes metrics.json and one CSV file
// per table (keys and columns in docs/METRICS.md). All files appear together or not at all.
#include "cli.h"

#include "sinkscope/analysis.h"
#include "sinkscope/error.h"
#include "sinkscope/model.h"
#include "sinkscope/npy.h"
#include "sinkscope/runio.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>

#include <algorithm>
#include <cmath>
#include <map>

namespace sinkscope::cli {

namespace {

namespace an = sinkscope::analysis;

QString q(const std::string& s)
{
    return QString::fromUtf8(s.data(), qsizetype(s.size()));
}

// JSON has no NaN or infinity; a metric that produced one is written as null.
QJsonValue num(double v)
{
    return std::isfinite(v) ? QJsonValue(v) : QJsonValue();
}

QString csvNum(double v)
{
    return std::isfinite(v) ? QString::number(v, 'g', 9) : QString();
}

QString csvText(const QString& s)
{
    if (!s.contains(QLatin1Char(',')) && !s.contains(QLatin1Char('"')) && !s.contains(QLatin1Char('\n')))
        return s;
    QString e = s;
    e.replace(QLatin1String("\""), QLatin1String("\"\""));
    return QLatin1Char('"') + e + QLatin1Char('"');
}

QJsonArray vec(const float* p, int64_t n)
{
    QJsonArray a;
    for (int64_t i = 0; i < n; ++i)
        a.append(num(p[i]));
    return a;
}

QJsonArray vec(const Eigen::VectorXf& v)
{
    return vec(v.data(), v.size());
}

// [A][B][C] nested arrays of a 3-d tensor; null when not available.
QJsonValue tensor3(const Tensor& t)
{
    if (t.empty())
        return QJsonValue();
    QJsonArray outer;
    for (int64_t a = 0; a < t.size(0); ++a) {
        QJsonArray mid;
        for (int64_t b = 0; b < t.size(1); ++b)
            mid.append(vec(t.data.data() + (a * t.size(1) + b) * t.size(2), t.size(2)));
        outer.append(mid);
    }
    return outer;
}

QJsonArray matrix(const RowMatrixXf& m)
{
    QJsonArray rows;
    for (Eigen::Index r = 0; r < m.rows(); ++r)
        rows.append(vec(m.row(r).data(), m.cols()));
    return rows;
}

QJsonArray headElements(const std::vector<an::HeadElement>& list, const char* valueKey)
{
    QJsonArray a;
    for (const an::HeadElement& e : list)
        a.append(QJsonObject{{"layer", e.layer}, {"head", e.head}, {"element", e.element}, {valueKey, num(e.value)}});
    return a;
}

QJsonObject dimStatsJson(const an::DimStats& s)
{
    return QJsonObject{{"count", s.count}, {"mean", vec(s.mean)}, {"std", vec(s.std)}, {"max_abs", vec(s.maxAbs)}};
}

QJsonArray firstVsOthersJson(const std::vector<an::FirstVsOthers>& v)
{
    QJsonArray a;
    for (size_t i = 0; i < v.size(); ++i)
        a.append(QJsonObject{{"layer", int(i)}, {"first", num(v[i].first)}, {"others", num(v[i].others)}});
    return a;
}

// Every metric of `m` under the keys of docs/METRICS.md.
QJsonObject metricsJson(const an::RunMetrics& m)
{
    QJsonObject o;
    o["T"] = qint64(m.tokens);
    o["prompts"] = m.prompts;
    o["importance"] = tensor3(m.importance);
    o["first_token_mass"] = matrix(m.firstTokenMass);
    o["last_query_first_mass"] = matrix(m.lastQueryMass);
    o["first_mass_per_query"] = tensor3(m.firstMassPerQuery);
    o["sink_rate"] = QJsonObject{{"k", m.sinkRate.k}, {"epsilon", m.sinkRate.epsilon}, {"T", qint64(m.sinkRate.tokens)},
                                 {"percent", num(m.sinkRate.percent)}, {"pairs", m.sinkRate.pairs},
                                 {"above", m.sinkRate.above}};
    o["sink_curve"] = QJsonObject{{"mean", vec(m.sinkCurve.mean)}, {"std", vec(m.sinkCurve.std)},
                                  {"last_query_mean", vec(m.sinkCurve.lastMean)},
                                  {"last_query_std", vec(m.sinkCurve.lastStd)}};
    o["entropy"] = tensor3(m.entropy);
    o["attention_share"] = tensor3(m.share);
    o["top_attended"] = headElements(m.topAttended, "share");
    o["value_norms"] = tensor3(m.valueNorms);
    o["contribution_norms"] = tensor3(m.contributionNorms);
    o["written_norms"] = tensor3(m.writtenNorms);
    o["waiver_scores"] = tensor3(m.waiverScores);
    o["waiver_basis"] = m.waiverBasis.empty() ? QJsonValue() : QJsonValue(q(m.waiverBasis));
    o["waiver"] = headElements(m.waiver, "score");

    QJsonArray keys;
    for (const an::KeySummary& k : m.keys)
        keys.append(QJsonObject{{"layer", k.layer}, {"head", k.head}, {"element", k.element},
                                {"k_norm", num(k.keyNorm)}, {"k_norm_others", num(k.keyNormOthers)},
                                {"cos", num(k.meanCosine)}, {"cos_others", num(k.meanCosineOthers)},
                                {"q_norm", num(k.meanQueryNorm)}});
    o["key_decomposition"] = keys;

    QJsonArray values;
    for (const an::ValueDims& v : m.valueDims) {
        QJsonArray elements;
        for (int e : v.waiverElements)
            elements.append(e);
        values.append(QJsonObject{{"layer", v.layer}, {"kv_head", v.kvHead}, {"waiver_elements", elements},
                                  {"rest", dimStatsJson(v.rest)}, {"waiver", dimStatsJson(v.waiver)}});
    }
    o["value_dims"] = values;

    QJsonArray hidden;
    for (size_t i = 0; i < m.hidden.size(); ++i) {
        const an::HiddenStats& h = m.hidden[i];
        QJsonArray top, argmax;
        for (const an::Activation& a : h.top)
            top.append(QJsonObject{{"element", a.element}, {"dim", a.dim}, {"value", num(a.value)}});
        for (Eigen::Index d = 0; d < h.argmax.size(); ++d)
            argmax.append(h.argmax[d]);
        hidden.append(QJsonObject{{"layer", int(i)}, {"top", top}, {"median", num(h.median)},
                                  {"max_abs", vec(h.maxAbs)}, {"argmax_element", argmax}});
    }
    o["hidden_dims"] = hidden;

    QJsonArray massive;
    for (const an::MassiveActivation& a : m.massive) {
        QJsonObject e{{"layer", a.layer}, {"dim", a.dim}, {"element", a.element}, {"value", num(a.value)}};
        if (m.prompts > 1)
            e["prompts"] = a.prompts;
        massive.append(e);
    }
    o["massive_activations"] = massive;
    o["norms"] = QJsonObject{{"hidden", firstVsOthersJson(m.hiddenNorms)}, {"keys", firstVsOthersJson(m.keyNorms)},
                             {"values", firstVsOthersJson(m.valueNormsFirst)}};
    QJsonArray missing;
    for (const std::string& u : m.unavailable)
        missing.append(q(u));
    o["unavailable"] = missing;
    return o;
}

QJsonObject spreadJson(const an::MetricsSpread& s)
{
    return QJsonObject{{"importance", tensor3(s.importance)},
                       {"first_token_mass", matrix(s.firstTokenMass)},
                       {"first_mass_per_query", tensor3(s.firstMassPerQuery)},
                       {"entropy", tensor3(s.entropy)},
                       {"value_norms", tensor3(s.valueNorms)},
                       {"waiver_scores", tensor3(s.waiverScores)},
                       {"sink_rate_percent", num(s.sinkRatePercent)}};
}

// CSV tables: name -> text. `tokens` labels the elements when the run had one prompt.
std::map<QString, QString> metricsCsv(const an::RunMetrics& m, const an::MetricsSpread* sp, const QStringList& tokens)
{
    std::map<QString, QString> files;
    auto token = [&](int64_t j) { return j < tokens.size() ? csvText(tokens[int(j)]) : QString(); };
    auto perElement = [&](const QString& name, const Tensor& t, const char* headName, const char* valueName,
                          const Tensor* spread) {
        if (t.empty())
            return;
        QString s = QStringLiteral("layer,%1,element,token,%2%3\n").arg(headName, valueName, spread ? ",std" : "");
        for (int64_t a = 0; a < t.size(0); ++a)
            for (int64_t b = 0; b < t.size(1); ++b)
                for (int64_t j = 0; j < t.size(2); ++j) {
                    const size_t i = size_t((a * t.size(1) + b) * t.size(2) + j);
                    s += QStringLiteral("%1,%2,%3,%4,%5").arg(a).arg(b).arg(j).arg(token(j), csvNum(t.data[i]));
                    if (spread)
                        s += QLatin1Char(',') + csvNum(spread->data[i]);
                    s += QLatin1Char('\n');
                }
        files[name] = s;
    };
    perElement("importance.csv", m.importance, "head", "alpha", sp ? &sp->importance : nullptr);
    perElement("entropy.csv", m.entropy, "head", "entropy", sp ? &sp->entropy : nullptr);
    perElement("value_norms.csv", m.valueNorms, "kv_head", "norm", sp ? &sp->valueNorms : nullptr);
    perElement("contribution_norms.csv", m.contributionNorms, "head", "norm", nullptr);
    perElement("written_norms.csv", m.writtenNorms, "head", "norm", nullptr);
    perElement("waiver_scores.csv", m.waiverScores, "head", "score", sp ? &sp->waiverScores : nullptr);

    QString mass = sp ? QStringLiteral("layer,head,mass,last_query_mass,std\n") : QStringLiteral("layer,head,mass,last_query_mass\n");
    for (Eigen::Index l = 0; l < m.firstTokenMass.rows(); ++l)
        for (Eigen::Index h = 0; h < m.firstTokenMass.cols(); ++h) {
            mass += QStringLiteral("%1,%2,%3,%4").arg(l).arg(h).arg(csvNum(m.firstTokenMass(l, h)), csvNum(m.lastQueryMass(l, h)));
            if (sp)
                mass += QLatin1Char(',') + csvNum(sp->firstTokenMass(l, h));
            mass += QLatin1Char('\n');
        }
    files["first_token_mass.csv"] = mass;

    files["sink_rate.csv"] = QStringLiteral("k,epsilon,T,percent,pairs,above,prompts\n%1,%2,%3,%4,%5,%6,%7\n")
                                 .arg(m.sinkRate.k)
                                 .arg(csvNum(m.sinkRate.epsilon))
                                 .arg(m.sinkRate.tokens)
                                 .arg(csvNum(m.sinkRate.percent))
                                 .arg(m.sinkRate.pairs)
                                 .arg(m.sinkRate.above)
                                 .arg(m.prompts);

    QString curve = QStringLiteral("layer,mean,std,last_query_mean,last_query_std\n");
    for (Eigen::Index l = 0; l < m.sinkCurve.mean.size(); ++l)
        curve += QStringLiteral("%1,%2,%3,%4,%5\n")
                     .arg(l)
                     .arg(csvNum(m.sinkCurve.mean[l]), csvNum(m.sinkCurve.std[l]), csvNum(m.sinkCurve.lastMean[l]),
                          csvNum(m.sinkCurve.lastStd[l]));
    files["sink_curve.csv"] = curve;

    auto headTable = [&](const QString& name, const std::vector<an::HeadElement>& list, const char* valueName) {
        QString s = QStringLiteral("layer,head,element,token,%1\n").arg(valueName);
        for (const an::HeadElement& e : list)
            s += QStringLiteral("%1,%2,%3,%4,%5\n").arg(e.layer).arg(e.head).arg(e.element).arg(token(e.element), csvNum(e.value));
        files[name] = s;
    };
    headTable("top_attended.csv", m.topAttended, "share");
    if (!m.waiver.empty())
        headTable("waiver.csv", m.waiver, "score");

    if (!m.keys.empty()) {
        QString s = QStringLiteral("layer,head,element,k_norm,k_norm_others,cos,cos_others,q_norm\n");
        for (const an::KeySummary& k : m.keys)
            s += QStringLiteral("%1,%2,%3,%4,%5,%6,%7,%8\n")
                     .arg(k.layer)
                     .arg(k.head)
                     .arg(k.element)
                     .arg(csvNum(k.keyNorm), csvNum(k.keyNormOthers), csvNum(k.meanCosine), csvNum(k.meanCosineOthers),
                          csvNum(k.meanQueryNorm));
        files["key_decomposition.csv"] = s;
    }
    if (!m.valueDims.empty()) {
        QString s = QStringLiteral("layer,kv_head,group,count,dim,mean,std,max_abs\n");
        for (const an::ValueDims& v : m.valueDims)
            for (const auto& [group, st] : {std::make_pair("rest", &v.rest), std::make_pair("waiver", &v.waiver)})
                for (Eigen::Index d = 0; d < st->mean.size(); ++d)
                    s += QStringLiteral("%1,%2,%3,%4,%5,%6,%7,%8\n")
                             .arg(v.layer)
                             .arg(v.kvHead)
                             .arg(QLatin1String(group))
                             .arg(st->count)
                             .arg(d)
                             .arg(csvNum(st->mean[d]), csvNum(st->std[d]), csvNum(st->maxAbs[d]));
        files["value_dims.csv"] = s;
    }
    if (!m.hidden.empty()) {
        QString dims = QStringLiteral("layer,dim,max_abs,element\n");
        QString layers = QStringLiteral("layer,top1,top2,top3,median\n");
        for (size_t i = 0; i < m.hidden.size(); ++i) {
            const an::HiddenStats& h = m.hidden[i];
            for (Eigen::Index d = 0; d < h.maxAbs.size(); ++d)
                dims += QStringLiteral("%1,%2,%3,%4\n").arg(i).arg(d).arg(csvNum(h.maxAbs[d])).arg(h.argmax[d]);
            layers += QString::number(i);
            for (size_t r = 0; r < 3; ++r)
                layers += QLatin1Char(',') + (r < h.top.size() ? csvNum(std::fabs(h.top[r].value)) : QString());
            layers += QLatin1Char(',') + csvNum(h.median) + QLatin1Char('\n');
        }
        files["hidden_dims.csv"] = dims;
        files["hidden_layers.csv"] = layers;
        QString massive = QStringLiteral("layer,dim,element,token,value,prompts\n");
        for (const an::MassiveActivation& a : m.massive)
            massive += QStringLiteral("%1,%2,%3,%4,%5,%6\n")
                           .arg(a.layer)
                           .arg(a.dim)
                           .arg(a.element)
                           .arg(token(a.element), csvNum(a.value))
                           .arg(a.prompts);
        files["massive_activations.csv"] = massive;
    }
    QString norms = QStringLiteral("kind,layer,first,others\n");
    auto addNorms = [&](const char* kind, const std::vector<an::FirstVsOthers>& v) {
        for (size_t i = 0; i < v.size(); ++i)
            norms += QStringLiteral("%1,%2,%3,%4\n").arg(QLatin1String(kind)).arg(i).arg(csvNum(v[i].first), csvNum(v[i].others));
    };
    addNorms("hidden", m.hiddenNorms);
    addNorms("key", m.keyNorms);
    addNorms("value", m.valueNormsFirst);
    files["norms.csv"] = norms;
    return files;
}

// Stages every file in a temporary folder inside outDir and moves them into place only when all
// were written, like saveRun.
void writeAll(const QString& outDir, const std::map<QString, QByteArray>& files)
{
    if (!QDir().mkpath(outDir))
        throw Error(ErrorCode::Io, "Cannot create the output folder.", outDir.toStdString());
    QTemporaryDir staging(QDir(outDir).filePath(QStringLiteral(".sinkscope-staging-XXXXXX")));
    if (!staging.isValid())
        throw Error(ErrorCode::Io, "Cannot write into the output folder.", outDir.toStdString());
    for (const auto& [name, bytes] : files)
        writeFileAtomically(QDir(staging.path()).filePath(name).toStdString(), bytes.toStdString());
    for (const auto& [name, bytes] : files) {
        const QString dst = QDir(outDir).filePath(name);
        QFile::remove(dst);
        if (!QFile::rename(QDir(staging.path()).filePath(name), dst))
            throw Error(ErrorCode::Io, "Cannot move the result into the output folder.", dst.toStdString());
    }
}

struct PromptRun {
    int line = 0;
    std::string text;
    QStringList tokens;
    an::RunMetrics metrics;
};

double parseNumber(const Options& o, const QString& name, double fallback)
{
    if (!o.has(name))
        return fallback;
    bool ok = false;
    const double v = o.value(name).toDouble(&ok);
    if (!ok || !std::isfinite(v))
        throw UsageError("--" + name.toStdString() + " needs a number, got '" + o.value(name).toStdString() + "'");
    return v;
}

} // namespace

int analyzeCommand(const QStringList& args)
{
    const Options o(args, {"model", "prompt", "prompts", "length", "epsilon", "k", "massive-abs", "massive-rel", "bos",
                           "device", "dtype", "out"});
    const QString modelDir = o.required("model");
    const QString outDir = o.required("out");
    if (o.has("prompt") == o.has("prompts"))
        throw UsageError("give exactly one of --prompt and --prompts");

    an::Options opt;
    opt.epsilon = parseNumber(o, "epsilon", opt.epsilon);
    if (!(opt.epsilon >= 0.0 && opt.epsilon < 1.0))
        throw UsageError("--epsilon must be in [0, 1)");
    const double k = parseNumber(o, "k", 0);
    if (k < 0 || k != std::floor(k))
        throw UsageError("--k must be a non-negative element index");
    opt.sinkElement = int(k);
    opt.massive.absolute = parseNumber(o, "massive-abs", opt.massive.absolute);
    opt.massive.relative = parseNumber(o, "massive-rel", opt.massive.relative);
    int64_t length = 0;
    if (o.has("length")) {
        bool ok = false;
        length = o.value("length").toLongLong(&ok);
        if (!ok || length < 1)
            throw UsageError("--length must be a positive number of tokens");
        if (opt.sinkElement >= length)
            throw UsageError("--k must be smaller than --length");
    }
    const BosPolicy bos = parseBosPolicy(o.value("bos", "auto").toStdString());
    DTypePreference dtype = DTypePreference::Auto;
    const QString dt = o.value("dtype", "auto");
    if (dt == "fp32") dtype = DTypePreference::F32;
    else if (dt == "fp16") dtype = DTypePreference::F16;
    else if (dt == "bf16") dtype = DTypePreference::BF16;
    else if (dt != "auto") throw UsageError("--dtype must be auto, fp32, fp16 or bf16");

    std::vector<an::Prompt> prompts;
    if (o.has("prompt")) {
        prompts.push_back({0, o.value("prompt").toStdString()});
    } else {
        const an::PromptSet set = an::readPromptSet(o.value("prompts").toStdString());
        for (const an::PromptIssue& issue : set.issues)
            err(QStringLiteral("warning: %1:%2: %3 (line skipped)").arg(o.value("prompts")).arg(issue.line).arg(q(issue.message)));
        prompts = set.prompts;
        if (prompts.empty())
            throw Error(ErrorCode::InvalidArgument, "The prompt file has no usable prompt.", o.value("prompts").toStdString());
    }

    const auto model = Model::load(modelDir.toStdString(), parseDevicePreference(o.value("device", "auto").toStdString()), dtype);
    const auto tokenizer = model->tokenizer();
    if (!tokenizer)
        throw Error(ErrorCode::InvalidArgument, "This model folder has no tokenizer.json; analyze needs text prompts.",
                    modelDir.toStdString());

    // Maps are recomputed from Q/K when the engine keeps them; only when it does not are all
    // L x H x T x T probabilities kept.
    bool keepMaps = false;
    std::vector<PromptRun> runs;
    std::shared_ptr<RunResult> single;
    for (size_t i = 0; i < prompts.size(); ++i) {
        const an::Prompt& p = prompts[i];
        const QString where = p.line > 0 ? QStringLiteral("%1:%2").arg(o.value("prompts")).arg(p.line) : QStringLiteral("prompt");
        Encoding enc = tokenizer->encode(p.text, bos);
        if (length > 0) {
            if (int64_t(enc.tokens.size()) < length) {
                err(QStringLiteral("warning: %1: %2 tokens, fewer than --length %3 (prompt skipped)")
                        .arg(where)
                        .arg(enc.tokens.size())
                        .arg(length));
                continue;
            }
            enc.tokens.resize(size_t(length));
        }
        RunRequest req;
        req.useIds = true;
        req.ids = enc.ids();
        req.captureLogits = false;
        req.captureAttention = keepMaps;
        std::shared_ptr<RunResult> r = model->run(req);
        if (!r->canMakeMaps()) {
            keepMaps = true;
            req.captureAttention = true;
            r = model->run(req);
        }
        r->encoding = enc;
        PromptRun run;
        run.line = p.line;
        run.text = p.text;
        for (const Token& t : enc.tokens)
            run.tokens << q(t.display);
        run.metrics = an::analyzeRun(*r, opt);
        if (prompts.size() == 1)
            single = r;
        err(QStringLiteral("%1/%2 %3: %4 tokens").arg(i + 1).arg(prompts.size()).arg(where).arg(r->tokens));
        runs.push_back(std::move(run));
    }
    if (runs.empty())
        throw Error(ErrorCode::InvalidArgument, "No prompt has --length " + std::to_string(length) + " tokens.");

    // Never average different lengths: group by T; the largest group (ties: the longer T) is the
    // top level, every group is listed.
    std::map<int64_t, std::vector<size_t>> groups;
    for (size_t i = 0; i < runs.size(); ++i)
        groups[runs[i].metrics.tokens].push_back(i);
    int64_t mainT = groups.begin()->first;
    for (const auto& [T, members] : groups)
        if (members.size() >= groups[mainT].size())
            mainT = T;

    const ModelInfo& info = model->info();
    QJsonObject modelJson{{"name", q(info.name)}, {"model_type", q(info.modelType)}, {"layers", info.layers},
                          {"heads", info.heads}, {"kv_heads", info.kvHeads}, {"head_dim", info.headDim},
                          {"hidden_size", info.hiddenSize}, {"position", q(info.position)},
                          {"attention", q(info.attention)}, {"synthetic", info.synthetic}};
    QJsonObject settings{{"k", opt.sinkElement}, {"epsilon", opt.epsilon}, {"massive_abs", opt.massive.absolute},
                         {"massive_rel", opt.massive.relative}, {"waiver_threshold", opt.waiverThreshold},
                         {"bos", q(bosPolicyName(bos))}, {"length", length > 0 ? QJsonValue(qint64(length)) : QJsonValue()}};

    auto groupJson = [&](const std::vector<size_t>& members, an::MetricsSpread* spreadOut) {
        std::vector<an::RunMetrics> ms;
        for (size_t i : members)
            ms.push_back(runs[i].metrics);
        an::MetricsSpread spread;
        const an::RunMetrics mean = an::aggregate(ms, &spread);
        if (spreadOut)
            *spreadOut = spread;
        QJsonObject g = metricsJson(mean);
        if (o.has("prompts")) {
            g["std"] = spreadJson(spread);
            QJsonArray perPrompt;
            for (size_t i : members) {
                QJsonObject p = metricsJson(runs[i].metrics);
                p["line"] = runs[i].line;
                p["text"] = q(runs[i].text);
                p["tokens"] = QJsonArray::fromStringList(runs[i].tokens);
                perPrompt.append(p);
            }
            g["per_prompt"] = perPrompt;
        }
        return std::make_pair(g, mean);
    };

    an::MetricsSpread mainSpread;
    auto [root, mainMetrics] = groupJson(groups[mainT], &mainSpread);
    root["format"] = QStringLiteral("sinkscope-metrics");
    root["version"] = 1;
    root["model"] = modelJson;
    root["device"] = q(model->deviceName());
    root["dtype"] = q(model->dtypeName());
    root["settings"] = settings;
    if (prompts.size() == 1)
        root["tokens"] = QJsonArray::fromStringList(runs.front().tokens);
    if (groups.size() > 1) {
        QJsonArray all;
        for (const auto& [T, members] : groups) {
            QJsonObject g = groupJson(members, nullptr).first;
            QJsonArray lines;
            for (size_t i : members)
                lines.append(runs[i].line);
            g["lines"] = lines;
            all.append(g);
        }
        root["groups"] = all;
        err(QStringLiteral("warning: the prompts have %1 different lengths; the top level holds the T = %2 group (%3 "
                           "prompts), every group is under \"groups\"; --length T truncates all prompts to one length")
                .arg(groups.size())
                .arg(mainT)
                .arg(groups[mainT].size()));
    }

    std::map<QString, QByteArray> files;
    files["metrics.json"] = QJsonDocument(root).toJson(QJsonDocument::Indented);
    const QStringList labels = prompts.size() == 1 ? runs.front().tokens : QStringList();
    for (const auto& [name, text] : metricsCsv(mainMetrics, o.has("prompts") ? &mainSpread : nullptr, labels))
        files[name] = text.toUtf8();
    if (o.has("prompts")) {
        QString s = QStringLiteral("line,T,sink_rate_percent,mean_first_token_mass,top_waiver_score\n");
        for (const PromptRun& r : runs) {
            float top = 0.0f;
            for (const an::HeadElement& w : r.metrics.waiver)
                top = std::max(top, w.value);
            s += QStringLiteral("%1,%2,%3,%4,%5\n")
                     .arg(r.line)
                     .arg(r.metrics.tokens)
                     .arg(csvNum(r.metrics.sinkRate.percent), csvNum(r.metrics.firstTokenMass.mean()),
                          r.metrics.waiver.empty() ? QString() : csvNum(top));
        }
        files["per_prompt.csv"] = s.toUtf8();
    }
    if (single)
        files["run.json"] = QByteArray::fromStdString(runJsonText(*single));
    writeAll(outDir, files);

    err(QStringLiteral("%1 prompt(s), T = %2: Sink_%3^%4 = %5% -> %6")
            .arg(mainMetrics.prompts)
            .arg(mainT)
            .arg(opt.sinkElement)
            .arg(opt.epsilon)
            .arg(mainMetrics.sinkRate.percent, 0, 'f', 2)
            .arg(outDir));
    return 0;
}

} // namespace sinkscope::cli
