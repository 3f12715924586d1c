// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkscope/controls.h"

#include "sinkscope/error.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <sstream>

namespace sinkscope::analysis {

namespace {

// Running per-position means over prompts of different lengths.
struct PositionMean {
    std::vector<double> sum;
    std::vector<int> count;
    void add(const std::vector<double>& x)
    {
        if (sum.size() < x.size()) {
            sum.resize(x.size(), 0.0);
            count.resize(x.size(), 0);
        }
        for (size_t i = 0; i < x.size(); ++i) {
            sum[i] += x[i];
            ++count[i];
        }
    }
    std::vector<double> mean() const
    {
        std::vector<double> m(sum.size());
        for (size_t i = 0; i < sum.size(); ++i)
            m[i] = sum[i] / count[i];
        return m;
    }
};

double meanOf(const std::vector<double>& x)
{
    double s = 0.0;
    for (double v : x)
        s += v;
    return x.empty() ? 0.0 : s / double(x.size());
}

QJsonArray array(const std::vector<double>& x)
{
    QJsonArray a;
    for (double v : x)
        a.append(v);
    return a;
}

QJsonArray matrix(const RowMatrixXf& m)
{
    QJsonArray rows;
    for (int l = 0; l < m.rows(); ++l) {
        QJsonArray row;
        for (int h = 0; h < m.cols(); ++h)
            row.append(double(m(l, h)));
        rows.append(row);
    }
    return rows;
}

} // namespace

ControlJob::ControlJob(PromptSet set, ControlSpec spec, BosPolicy bos) : m_set(std::move(set)), m_spec(spec), m_bos(bos)
{
}

ControlJob::ControlJob(Encoding tokens, ControlSpec spec) : m_encoding(std::move(tokens)), m_spec(std::move(spec))
{
}

std::shared_ptr<const JobResult> ControlJob::execute(JobContext& ctx)
{
    const ModelInfo& info = ctx.model();
    const bool causal = info.attention != "bidirectional";
    const bool evict = m_spec.kind == ControlSpec::Kind::Evict;

    // The prompts as encodings with their lines (0: a single prompt). Given tokens are used as
    // they are; text prompts are tokenized with the loaded model's tokenizer.
    std::vector<Encoding> encodings;
    std::vector<int> lines;
    if (m_encoding) {
        encodings.push_back(*m_encoding);
        lines.push_back(0);
    } else {
        if (m_set.prompts.empty())
            throw Error(ErrorCode::InvalidArgument, "The prompt file has no usable prompt.");
        if (!ctx.tokenizer())
            throw Error(ErrorCode::InvalidArgument, "This model folder has no tokenizer.json; control needs text prompts.");
        for (const Prompt& p : m_set.prompts) {
            encodings.push_back(ctx.encode(p.text, m_bos));
            lines.push_back(p.line);
        }
    }

    // Every prompt is checked before the first run: a J outside one prompt fails the whole call.
    std::vector<Interventions> controls, windows, designated;
    for (size_t i = 0; i < encodings.size(); ++i) {
        const int64_t T = int64_t(encodings[i].tokens.size());
        try {
            controls.push_back(controlInterventions(m_spec, T, causal, info.maxPositions));
            if (evict) {
                ControlSpec w = m_spec;
                w.sinks = 0;
                windows.push_back(controlInterventions(w, T, causal, info.maxPositions));
                designated.push_back(designatedEviction(m_spec, T));
            }
        } catch (const Error& e) {
            throw Error(ErrorCode::InvalidArgument,
                        e.what() + std::string(lines[i] > 0 ? " (prompt on line " + std::to_string(lines[i]) + ", " : " (")
                            + std::to_string(T) + " tokens)");
        }
    }
    ctx.plan(int(encodings.size()) * (evict ? 4 : 2));

    auto out = std::make_shared<ControlResult>();
    out->spec = m_spec;
    out->model = info;
    out->firstMassBefore = RowMatrixXf::Zero(info.layers, info.heads);
    out->firstMassAfter = RowMatrixXf::Zero(info.layers, info.heads);
    PositionMean kl, full, evicted, window, designate;
    double nllBefore = 0, nllAfter = 0, klMean = 0;
    for (size_t i = 0; i < encodings.size(); ++i) {
        const std::vector<int32_t> ids = encodings[i].ids();
        RunRequest req;
        req.useIds = true;
        req.ids = ids;
        req.captureAttention = false;
        req.captureHidden = false;
        req.captureValues = false;
        req.captureLogits = true;
        req.captureQK = true;
        const std::string where = lines[i] > 0 ? " (line " + std::to_string(lines[i]) + ")" : "";
        std::shared_ptr<RunResult> before = ctx.run(req, "as is" + where);
        if (before->logits.empty())
            throw Error(ErrorCode::InvalidArgument,
                        "This model has no output head (a bare encoder): a control's cost needs next-token distributions.");
        req.interventions = controls[i];
        std::shared_ptr<RunResult> after = ctx.run(req, "with " + m_spec.text + where);
        before->encoding = after->encoding = encodings[i];
        const int64_t T = before->tokens, V = info.vocabSize;
        const std::vector<double> nb = tokenNll(before->logits, ids, V, causal);
        const std::vector<double> na = tokenNll(after->logits, ids, V, causal);
        const std::vector<double> k = klPerPosition(before->logits, after->logits, T, V);
        nllBefore += meanOf(nb);
        nllAfter += meanOf(na);
        klMean += meanOf(k);
        kl.add(k);
        out->firstMassBefore += before->firstTokenMass;
        out->firstMassAfter += after->firstTokenMass;
        if (evict) {
            req.interventions = windows[i];
            std::shared_ptr<RunResult> w = ctx.run(req, "window only" + where);
            full.add(nb);
            evicted.add(na);
            window.add(tokenNll(w->logits, ids, V, causal));
            if (!designated[i].maskBias.empty()) {
                req.interventions = designated[i];
                std::shared_ptr<RunResult> dz = ctx.run(req, "designated waiver" + where);
                designate.add(tokenNll(dz->logits, ids, V, causal));
            }
        }
        if (encodings.size() == 1) {
            out->before = before;
            out->after = after;
        }
    }
    const double n = double(encodings.size());
    out->prompts = int(encodings.size());
    out->nllBefore = nllBefore / n;
    out->nllAfter = nllAfter / n;
    out->klMean = klMean / n;
    out->klPerPosition = kl.mean();
    out->firstMassBefore /= float(n);
    out->firstMassAfter /= float(n);
    if (evict) {
        out->nllFull = full.mean();
        out->nllEvicted = evicted.mean();
        out->nllWindowOnly = window.mean();
        out->nllDesignated = designate.mean();
    }
    return out;
}

std::map<std::string, std::string> controlFiles(const ControlResult& r)
{
    QJsonObject root{{"control", QString::fromStdString(r.spec.text)},
                     {"nll_before", r.nllBefore},
                     {"nll_after", r.nllAfter},
                     {"kl_mean", r.klMean},
                     {"kl_per_position", array(r.klPerPosition)},
                     {"first_token_mass", QJsonObject{{"before", matrix(r.firstMassBefore)}, {"after", matrix(r.firstMassAfter)}}}};
    if (r.spec.kind == ControlSpec::Kind::Evict)
        root["nll_per_position"] = QJsonObject{{"full", array(r.nllFull)}, {"evicted", array(r.nllEvicted)}};
    std::map<std::string, std::string> files;
    files["control.json"] = QJsonDocument(root).toJson(QJsonDocument::Indented).toStdString();
    auto num = [](double x) {
        std::ostringstream o;
        o.precision(9);
        o << x;
        return o.str();
    };
    std::ostringstream kl;
    kl << "position,kl\n";
    for (size_t t = 0; t < r.klPerPosition.size(); ++t)
        kl << t << ',' << num(r.klPerPosition[t]) << '\n';
    files["kl_per_position.csv"] = kl.str();
    std::ostringstream fm;
    fm << "layer,head,before,after\n";
    for (int l = 0; l < r.firstMassBefore.rows(); ++l)
        for (int h = 0; h < r.firstMassBefore.cols(); ++h)
            fm << l << ',' << h << ',' << num(r.firstMassBefore(l, h)) << ',' << num(r.firstMassAfter(l, h)) << '\n';
    files["first_token_mass.csv"] = fm.str();
    if (r.spec.kind == ControlSpec::Kind::Evict) {
        std::ostringstream ev;
        ev << "position,full,evicted,window_only,designated\n";
        for (size_t t = 0; t < r.nllFull.size(); ++t)
            ev << t << ',' << num(r.nllFull[t]) << ',' << num(r.nllEvicted[t]) << ','
               << (t < r.nllWindowOnly.size() ? num(r.nllWindowOnly[t]) : std::string()) << ','
               << (t < r.nllDesignated.size() ? num(r.nllDesignated[t]) : std::string()) << '\n';
        files["eviction.csv"] = ev.str();
    }
    return files;
}

} // namespace sinkscope::analysis
