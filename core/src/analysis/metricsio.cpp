// SPDX-License-Identifier: GPL-3.0-or-later
// metrics.json and the CSV tables (docs/METRICS.md), shared by the CLI and the GUI.
#include "sinkscope/metricsio.h"

#include "sinkscope/error.h"
#include "sinkscope/text.h"
#include "sinkscope/fileio.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStringList>

#include <algorithm>
#include <cmath>
#include <map>

namespace sinkscope::analysis {

namespace {

// JSON has no NaN or infinity; a metric that produced one is written as null.
QJsonValue num(double v)
{
    return std::isfinite(v) ? QJsonValue(v) : QJsonValue();
}

QString csvNum(double v)
{
    return std::isfinite(v) ? QString::number(v, 'g', 9) : QString();
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

QJsonArray headElements(const std::vector<HeadElement>& list, const char* valueKey)
{
    QJsonArray a;
    for (const HeadElement& e : list)
        a.append(QJsonObject{{"layer", e.layer}, {"head", e.head}, {"element", e.element}, {valueKey, num(e.value)}});
    return a;
}

QJsonObject dimStatsJson(const DimStats& s)
{
    return QJsonObject{{"count", s.count}, {"mean", vec(s.mean)}, {"std", vec(s.std)}, {"max_abs", vec(s.maxAbs)}};
}

QJsonArray firstVsOthersJson(const std::vector<FirstVsOthers>& v)
{
    QJsonArray a;
    for (size_t i = 0; i < v.size(); ++i)
        a.append(QJsonObject{{"layer", int(i)}, {"first", num(v[i].first)}, {"others", num(v[i].others)}});
    return a;
}

// Every metric of `m` under the keys of docs/METRICS.md.
// `perToken` false leaves out everything that grows with T or with the hidden size (the [L, H, T]
// tensors, the sink curve, per-dimension statistics): a prompt set's per-prompt entries then grow
// with L x H only (400 prompts of stories260K at T = 64 wrote 366 MB before).
QJsonObject metricsJson(const RunMetrics& m, bool perToken = true)
{
    QJsonObject o;
    o["T"] = qint64(m.tokens);
    o["prompts"] = m.prompts;
    if (perToken)
        o["importance"] = tensor3(m.importance);
    o["first_token_mass"] = matrix(m.firstTokenMass);
    o["last_query_first_mass"] = matrix(m.lastQueryMass);
    if (perToken)
        o["first_mass_per_query"] = tensor3(m.firstMassPerQuery);
    o["sink_rate"] = QJsonObject{{"k", m.sinkRate.k}, {"epsilon", m.sinkRate.epsilon}, {"T", qint64(m.sinkRate.tokens)},
                                 {"percent", num(m.sinkRate.percent)}, {"pairs", m.sinkRate.pairs},
                                 {"above", m.sinkRate.above}};
    if (perToken) {
        o["sink_curve"] = QJsonObject{{"mean", vec(m.sinkCurve.mean)}, {"std", vec(m.sinkCurve.std)},
                                      {"last_query_mean", vec(m.sinkCurve.lastMean)},
                                      {"last_query_std", vec(m.sinkCurve.lastStd)}};
        o["entropy"] = tensor3(m.entropy);
        o["attention_share"] = tensor3(m.share);
    }
    o["top_attended"] = headElements(m.topAttended, "share");
    if (perToken) {
        o["value_norms"] = tensor3(m.valueNorms);
        o["contribution_norms"] = tensor3(m.contributionNorms);
        o["written_norms"] = tensor3(m.writtenNorms);
        o["waiver_scores"] = tensor3(m.waiverScores);
    }
    o["waiver_basis"] = m.waiverBasis.empty() ? QJsonValue() : QJsonValue(QString::fromStdString(m.waiverBasis));
    o["waiver"] = headElements(m.waiver, "score");

    QJsonArray keys;
    for (const KeySummary& k : m.keys)
        keys.append(QJsonObject{{"layer", k.layer}, {"head", k.head}, {"element", k.element},
                                {"k_norm", num(k.keyNorm)}, {"k_norm_others", num(k.keyNormOthers)},
                                {"cos", num(k.meanCosine)}, {"cos_others", num(k.meanCosineOthers)},
                                {"q_norm", num(k.meanQueryNorm)}});
    o["key_decomposition"] = keys;

    QJsonArray values;
    for (const ValueDims& v : perToken ? m.valueDims : std::vector<ValueDims>{}) {
        QJsonArray elements;
        for (int e : v.waiverElements)
            elements.append(e);
        values.append(QJsonObject{{"layer", v.layer}, {"kv_head", v.kvHead}, {"waiver_elements", elements},
                                  {"rest", dimStatsJson(v.rest)}, {"waiver", dimStatsJson(v.waiver)}});
    }
    if (perToken)
        o["value_dims"] = values;

    QJsonArray hidden;
    for (size_t i = 0; perToken && i < m.hidden.size(); ++i) {
        const HiddenStats& h = m.hidden[i];
        QJsonArray top, argmax;
        for (const Activation& a : h.top)
            top.append(QJsonObject{{"element", a.element}, {"dim", a.dim}, {"value", num(a.value)}});
        for (Eigen::Index d = 0; d < h.argmax.size(); ++d)
            argmax.append(h.argmax[d]);
        hidden.append(QJsonObject{{"layer", int(i)}, {"top", top}, {"median", num(h.median)},
                                  {"max_abs", vec(h.maxAbs)}, {"argmax_element", argmax}});
    }
    if (perToken)
        o["hidden_dims"] = hidden;

    QJsonArray massive;
    for (const MassiveActivation& a : m.massive) {
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
        missing.append(QString::fromStdString(u));
    o["unavailable"] = missing;
    return o;
}

QJsonObject spreadJson(const MetricsSpread& s)
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
std::map<QString, QString> metricsCsv(const RunMetrics& m, const MetricsSpread* sp, const QStringList& tokens)
{
    std::map<QString, QString> files;
    auto token = [&](int64_t j) { return j < tokens.size() ? QString::fromStdString(csvField(tokens[int(j)].toStdString())) : QString(); };
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

    auto headTable = [&](const QString& name, const std::vector<HeadElement>& list, const char* valueName) {
        QString s = QStringLiteral("layer,head,element,token,%1\n").arg(valueName);
        for (const HeadElement& e : list)
            s += QStringLiteral("%1,%2,%3,%4,%5\n").arg(e.layer).arg(e.head).arg(e.element).arg(token(e.element), csvNum(e.value));
        files[name] = s;
    };
    headTable("top_attended.csv", m.topAttended, "share");
    if (!m.waiver.empty())
        headTable("waiver.csv", m.waiver, "score");

    if (!m.keys.empty()) {
        QString s = QStringLiteral("layer,head,element,k_norm,k_norm_others,cos,cos_others,q_norm\n");
        for (const KeySummary& k : m.keys)
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
        for (const ValueDims& v : m.valueDims)
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
            const HiddenStats& h = m.hidden[i];
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
        for (const MassiveActivation& a : m.massive)
            massive += QStringLiteral("%1,%2,%3,%4,%5,%6\n")
                           .arg(a.layer)
                           .arg(a.dim)
                           .arg(a.element)
                           .arg(token(a.element), csvNum(a.value))
                           .arg(a.prompts);
        files["massive_activations.csv"] = massive;
    }
    QString norms = QStringLiteral("kind,layer,first,others\n");
    auto addNorms = [&](const char* kind, const std::vector<FirstVsOthers>& v) {
        for (size_t i = 0; i < v.size(); ++i)
            norms += QStringLiteral("%1,%2,%3,%4\n").arg(QLatin1String(kind)).arg(i).arg(csvNum(v[i].first), csvNum(v[i].others));
    };
    addNorms("hidden", m.hiddenNorms);
    addNorms("key", m.keyNorms);
    addNorms("value", m.valueNormsFirst);
    files["norms.csv"] = norms;
    return files;
}

} // namespace

void writeMetricsFolder(const std::string& outDir, const std::map<std::string, std::string>& files,
                        ExistingOutput existing)
{
    StagedFolder folder(outDir, existing);
    for (const auto& [name, bytes] : files)
        folder.write(name, bytes);
    folder.publish();
}


LengthGroups groupByLength(const std::vector<PromptRun>& runs)
{
    LengthGroups g;
    for (size_t i = 0; i < runs.size(); ++i)
        g.groups[runs[i].metrics.tokens].push_back(i);
    if (g.groups.empty())
        return g;
    g.mainLength = g.groups.begin()->first;
    for (const auto& [T, members] : g.groups)
        if (members.size() >= g.groups[g.mainLength].size())
            g.mainLength = T;
    return g;
}

std::map<std::string, std::string> metricsFiles(const std::vector<PromptRun>& runs, const MetricsReport& report,
                                                RunMetrics* mainOut)
{
    if (runs.empty())
        throw Error(ErrorCode::InvalidArgument, "There are no prompt runs to write.");
    auto tokenList = [](const PromptRun& r) {
        QStringList l;
        for (const std::string& t : r.tokens)
            l << QString::fromStdString(t);
        return l;
    };
    // Never average different lengths: group by T; the largest group (ties: the longer T) is the
    // top level, every group is listed.
    LengthGroups lg = groupByLength(runs);
    auto& groups = lg.groups;
    const int64_t mainT = lg.mainLength;

    const ModelInfo& info = report.model;
    const Options& opt = report.options;
    QJsonObject modelJson{{"name", QString::fromStdString(info.name)}, {"model_type", QString::fromStdString(info.modelType)}, {"layers", info.layers},
                          {"heads", info.heads}, {"kv_heads", info.kvHeads}, {"head_dim", info.headDim},
                          {"hidden_size", info.hiddenSize}, {"position", QString::fromStdString(info.position)},
                          {"attention", QString::fromStdString(info.attention)}, {"synthetic", info.synthetic}};
    QJsonObject settings{{"k", opt.sinkElement}, {"epsilon", opt.epsilon}, {"massive_abs", opt.massive.absolute},
                         {"massive_rel", opt.massive.relative}, {"waiver_threshold", opt.waiverThreshold},
                         {"bos", QString::fromStdString(report.bos)},
                         {"length", report.length > 0 ? QJsonValue(qint64(report.length)) : QJsonValue()}};

    auto groupJson = [&](const std::vector<size_t>& members, MetricsSpread* spreadOut) {
        std::vector<RunMetrics> ms;
        for (size_t i : members)
            ms.push_back(runs[i].metrics);
        MetricsSpread spread;
        const RunMetrics mean = aggregate(ms, &spread);
        if (spreadOut)
            *spreadOut = spread;
        QJsonObject g = metricsJson(mean);
        if (report.promptSet) {
            g["std"] = spreadJson(spread);
            QJsonArray perPrompt;
            for (size_t i : members) {
                QJsonObject p = metricsJson(runs[i].metrics, report.perPromptTensors);
                p["line"] = runs[i].line;
                p["text"] = QString::fromStdString(runs[i].text);
                p["tokens"] = QJsonArray::fromStringList(tokenList(runs[i]));
                perPrompt.append(p);
            }
            g["per_prompt"] = perPrompt;
        }
        return std::make_pair(g, mean);
    };

    MetricsSpread mainSpread;
    auto [root, mainMetrics] = groupJson(groups[mainT], &mainSpread);
    root["format"] = QStringLiteral("sinkscope-metrics");
    root["version"] = 1;
    root["model"] = modelJson;
    root["device"] = QString::fromStdString(report.device);
    root["dtype"] = QString::fromStdString(report.dtype);
    root["settings"] = settings;
    if (report.singlePrompt)
        root["tokens"] = QJsonArray::fromStringList(tokenList(runs.front()));
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
    }

    std::map<std::string, std::string> files;
    files["metrics.json"] = QJsonDocument(root).toJson(QJsonDocument::Indented).toStdString();
    const QStringList labels = report.singlePrompt ? tokenList(runs.front()) : QStringList();
    for (const auto& [name, text] : metricsCsv(mainMetrics, report.promptSet ? &mainSpread : nullptr, labels))
        files[name.toStdString()] = text.toUtf8().toStdString();
    if (report.promptSet) {
        QString s = QStringLiteral("line,T,sink_rate_percent,mean_first_token_mass,top_waiver_score\n");
        for (const PromptRun& r : runs) {
            float top = 0.0f;
            for (const HeadElement& w : r.metrics.waiver)
                top = std::max(top, w.value);
            s += QStringLiteral("%1,%2,%3,%4,%5\n")
                     .arg(r.line)
                     .arg(r.metrics.tokens)
                     .arg(csvNum(r.metrics.sinkRate.percent), csvNum(r.metrics.firstTokenMass.mean()),
                          r.metrics.waiver.empty() ? QString() : csvNum(top));
        }
        files["per_prompt.csv"] = s.toUtf8().toStdString();
    }
    if (!report.runJson.empty())
        files["run.json"] = report.runJson;
    if (mainOut)
        *mainOut = mainMetrics;
    return files;
}

} // namespace sinkscope::analysis
