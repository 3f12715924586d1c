// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkscope/classify.h"

#include "sinkscope/error.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <set>
#include <sstream>

namespace sinkscope::analysis {

namespace {

ProbeTokens probeTokens(const Tokenizer& tok, int32_t vocabSize)
{
    ProbeTokens t;
    // Draw only ids the tokenizer knows: a checkpoint's vocabulary is often padded beyond it.
    t.vocabSize = std::min(vocabSize, tok.vocabSize());
    t.bos = tok.bosId();
    try {
        const Encoding nl = tok.encode("\n", BosPolicy::Off);
        if (nl.tokens.size() == 1)
            t.newline = nl.tokens[0].id;
    } catch (const Error&) {
        // No newline token: the probe is left out and the design says so.
    }
    for (int32_t id = 0; id < vocabSize && id < tok.vocabSize(); ++id)
        if (tok.isSpecial(id))
            t.special.push_back(id);
    if (auto eos = tok.eosId())
        t.special.push_back(*eos);
    if (t.bos)
        t.special.push_back(*t.bos);
    return t;
}

} // namespace

ClassifyJob::ClassifyJob(PromptSet set, ClassifySettings settings, std::function<void(int, const ProbeDesign&)> onPlan)
    : m_set(std::move(set)), m_settings(settings), m_onPlan(std::move(onPlan))
{
}

ClassifyJob::ClassifyJob(Encoding tokens, ClassifySettings settings) : m_encoding(std::move(tokens)), m_settings(settings)
{
    m_set.prompts.push_back({0, std::string()});
}

std::shared_ptr<const JobResult> ClassifyJob::execute(JobContext& ctx)
{
    if (m_set.prompts.empty())
        throw Error(ErrorCode::InvalidArgument, "The prompt file has no usable prompt.");
    if (m_settings.batchSize < 1)
        throw Error(ErrorCode::InvalidArgument,
                    "The batch size must be at least 1, not " + std::to_string(m_settings.batchSize) + ".");
    const std::shared_ptr<const Tokenizer> tokenizer = ctx.tokenizer();
    if (!tokenizer)
        throw Error(ErrorCode::InvalidArgument, "This model folder has no tokenizer.json; classify needs text prompts.");
    const ModelInfo& info = ctx.model();
    const ProbeTokens tokens = probeTokens(*tokenizer, info.vocabSize);
    const bool learned = info.position == "learned";

    auto out = std::make_shared<Classification>();
    out->model = info;
    out->device = ctx.device();
    out->dtype = ctx.dtype();
    out->settings = m_settings;
    for (const PromptIssue& i : m_set.issues)
        out->notes.push_back("line " + std::to_string(i.line) + ": " + i.message);
    ctx.plan(int(m_set.prompts.size())); // the base runs; each prompt's probes are planned after it

    std::vector<std::vector<HeadVerdict>> perPrompt;
    int64_t T = -1;
    const bool single = m_set.prompts.size() == 1;
    // One prompt's probes and verdicts, after its base run.
    struct Pending {
        int line = 0;
        std::string where;
        Encoding enc;
    };
    const auto analyse = [&](const Pending& pending, std::shared_ptr<RunResult> base) {
        const std::string& where = pending.where;
        base->encoding = pending.enc;
        const ProbeDesign design = designProbes(*base, tokens, m_settings);
        if (m_onPlan)
            m_onPlan(pending.line, design);
        ctx.plan(int(design.variants.size()));
        std::vector<RunRequest> probeRequests;
        for (const ProbeVariant& v : design.variants)
            probeRequests.push_back(v.request);
        std::vector<std::shared_ptr<const RunResult>> runs;
        for (std::shared_ptr<RunResult>& r : ctx.runBatch(probeRequests, m_settings.batchSize, "probes (" + where + ")"))
            runs.push_back(std::move(r));
        out->forwardPasses += probeRunCount(design);
        for (const std::string& n : design.notes)
            out->notes.push_back(where + ": " + n);

        std::vector<HeadVerdict> heads;
        Classification::PromptVerdicts pv;
        pv.line = pending.line;
        pv.tokens = base->tokens;
        for (int l = 0; l < info.layers; ++l)
            for (int h = 0; h < info.heads; ++h) {
                std::map<std::string, ProbeEvidence> evidence;
                ProbeNumbers n = probeNumbers(design, *base, runs, l, h, m_settings, single ? &evidence : nullptr);
                heads.push_back(decideHead(l, h, design.sinks[size_t(l * info.heads + h)], std::move(n), learned, m_settings));
                heads.back().evidence = std::move(evidence);
                pv.verdicts.push_back(heads.back().verdict);
                pv.confidence.push_back(heads.back().confidence);
            }
        out->perPrompt.push_back(std::move(pv));
        if (single) {
            out->base = base;
            out->design = design;
            out->probeRuns = runs;
        }
        perPrompt.push_back(std::move(heads));
        T = T < 0 ? base->tokens : (T == base->tokens ? T : 0);
    };
    // The base runs of up to batchSize consecutive prompts run as batched passes (prompts of one
    // length together), then each prompt's probes; only one window's base runs are held at a time.
    std::vector<Pending> window;
    const auto flush = [&] {
        if (window.empty())
            return;
        std::vector<RunRequest> requests;
        for (const Pending& pending : window) {
            RunRequest req;
            req.useIds = true;
            req.ids = pending.enc.ids();
            req.captureAttention = false;
            req.captureLogits = false;
            req.captureValues = false;
            req.captureHidden = true;
            req.captureQK = true;
            requests.push_back(std::move(req));
        }
        const std::string label = window.size() == 1 ? "base run (" + window.front().where + ")"
                                                     : "base runs (" + window.front().where + " to " + window.back().where + ")";
        std::vector<std::shared_ptr<RunResult>> bases = ctx.runBatch(requests, m_settings.batchSize, label);
        for (size_t i = 0; i < window.size(); ++i)
            analyse(window[i], std::move(bases[i]));
        window.clear();
    };
    for (const Prompt& prompt : m_set.prompts) {
        Pending pending;
        pending.line = prompt.line;
        pending.where = prompt.line > 0 ? "line " + std::to_string(prompt.line) : "prompt";
        pending.enc = m_encoding ? *m_encoding : ctx.encode(prompt.text, m_settings.bos, m_settings.length);
        if (m_settings.length > 0 && !m_encoding) {
            if (int64_t(pending.enc.tokens.size()) < m_settings.length) {
                flush(); // the notes stay in prompt order
                out->notes.push_back(pending.where + ": " + std::to_string(pending.enc.tokens.size())
                                     + " tokens, fewer than --length " + std::to_string(m_settings.length) + " (prompt skipped)");
                continue;
            }
            pending.enc.tokens.resize(size_t(m_settings.length));
        }
        window.push_back(std::move(pending));
        if (int(window.size()) >= m_settings.batchSize)
            flush();
    }
    flush();
    if (perPrompt.empty())
        throw Error(ErrorCode::InvalidArgument, "No prompt has --length " + std::to_string(m_settings.length) + " tokens.");
    out->tokens = T;
    out->prompts = int(perPrompt.size());
    out->heads = combinePrompts(perPrompt);
    out->modelVerdict = modelVerdict(out->heads, m_settings.modelShare, &out->counts);
    return out;
}

std::map<std::string, std::string> classificationFiles(const Classification& c)
{
    QJsonObject root;
    root["model_verdict"] = verdictName(c.modelVerdict);
    QJsonObject counts;
    for (const auto& [name, n] : c.counts)
        counts[QString::fromStdString(name)] = n;
    root["verdict_counts"] = counts;
    const ClassifySettings& s = c.settings;
    QJsonObject settings{{"sink_excess", s.sinkExcess},
                         {"min_queries", s.minQueries},
                         {"positional_at", s.positionalAt},
                         {"feature_at", s.featureAt},
                         {"min_conflict_mass", s.minConflictMass},
                         {"max_candidates", s.maxCandidates},
                         {"outlier_z", s.outlierZ},
                         {"max_outlier_dims", s.maxOutlierDims},
                         {"shift", s.shift},
                         {"seed", double(s.seed)},
                         {"model_share", s.modelShare},
                         {"bos", bosPolicyName(s.bos)},
                         {"length", double(s.length)},
                         {"T", double(c.tokens)},
                         {"prompts", c.prompts},
                         {"forward_passes", c.forwardPasses},
                         {"model", QString::fromStdString(c.model.name)},
                         {"model_type", QString::fromStdString(c.model.modelType)},
                         {"position", QString::fromStdString(c.model.position)},
                         {"device", QString::fromStdString(c.device)},
                         {"dtype", QString::fromStdString(c.dtype)}};
    QJsonArray notes;
    for (const std::string& n : c.notes)
        notes.append(QString::fromStdString(n));
    settings["notes"] = notes;
    root["settings"] = settings;
    QJsonArray heads;
    std::set<std::string> probeNames;
    for (const HeadVerdict& h : c.heads) {
        QJsonArray elements;
        for (int e : h.waiverElements)
            elements.append(e);
        QJsonObject probes;
        for (const auto& [name, x] : h.probes) {
            probes[QString::fromStdString(name)] = x;
            probeNames.insert(name);
        }
        heads.append(QJsonObject{{"layer", h.layer},
                                 {"head", h.head},
                                 {"verdict", verdictName(h.verdict)},
                                 {"confidence", h.confidence},
                                 {"waiver_elements", elements},
                                 {"probes", probes}});
    }
    root["heads"] = heads;

    std::map<std::string, std::string> files;
    files["classification.json"] = QJsonDocument(root).toJson(QJsonDocument::Indented).toStdString();

    auto num = [](double x) {
        std::ostringstream o;
        o.precision(6);
        o << x;
        return o.str();
    };
    std::ostringstream csv;
    csv << "layer,head,verdict,confidence,waiver_elements";
    for (const std::string& n : probeNames)
        csv << ',' << n;
    csv << '\n';
    for (const HeadVerdict& h : c.heads) {
        csv << h.layer << ',' << h.head << ',' << verdictName(h.verdict) << ',' << num(h.confidence) << ',';
        for (size_t i = 0; i < h.waiverElements.size(); ++i)
            csv << (i ? " " : "") << h.waiverElements[i];
        for (const std::string& n : probeNames) {
            csv << ',';
            auto it = h.probes.find(n);
            if (it != h.probes.end())
                csv << num(it->second);
        }
        csv << '\n';
    }
    files["classification.csv"] = csv.str();

    std::ostringstream layers;
    layers << "layer,positional,feature,mixed,none\n";
    for (int l = 0; l < c.model.layers; ++l) {
        std::map<Verdict, int> n;
        for (const HeadVerdict& h : c.heads)
            if (h.layer == l)
                ++n[h.verdict];
        layers << l << ',' << n[Verdict::Positional] << ',' << n[Verdict::Feature] << ',' << n[Verdict::Mixed] << ','
               << n[Verdict::None] << '\n';
    }
    files["verdicts_by_layer.csv"] = layers.str();

    std::ostringstream pp;
    pp << "line,T,layer,head,verdict,confidence,agrees\n";
    for (const auto& p : c.perPrompt)
        for (size_t i = 0; i < p.verdicts.size() && i < c.heads.size(); ++i)
            pp << p.line << ',' << p.tokens << ',' << c.heads[i].layer << ',' << c.heads[i].head << ','
               << verdictName(p.verdicts[i]) << ',' << num(p.confidence[i]) << ','
               << (p.verdicts[i] == c.heads[i].verdict ? 1 : 0) << '\n';
    files["per_prompt.csv"] = pp.str();
    return files;
}

} // namespace sinkscope::analysis
