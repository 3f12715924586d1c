// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgetstestdata.h"

#include "controlsview.h"
#include "currentresult.h"

#include <QSignalSpy>

namespace sinkscope::test {

void giveCannedJobResult(View* view, std::shared_ptr<const RunResult> run)
{
    auto* controls = qobject_cast<ControlsView*>(view);
    if (!controls)
        return;
    auto r = std::make_shared<analysis::ControlResult>();
    r->spec = analysis::parseControlSpec("block:1");
    r->model = run->model;
    r->prompts = 1;
    r->klPerPosition.assign(size_t(run->tokens), 0.0);
    r->firstMassBefore = r->firstMassAfter = run->firstTokenMass;
    r->before = r->after = run;
    controls->setResult(r);
}

bool showAnalysed(CurrentResult& current, std::shared_ptr<const RunResult> run)
{
    QSignalSpy available(&current, &CurrentResult::metricsAvailable);
    current.setResult(std::move(run));
    return current.metrics() || available.wait(10000);
}

Encoding makeCannedEncoding(int tokens, bool bosAdded)
{
    static const char* const words[] = {" The", " cat", ",", " sat", "\n", " on", " the", " mat", ".", " It", " was", " warm"};
    Encoding e;
    e.bosAdded = bosAdded;
    int64_t offset = 0;
    for (int i = 0; i < tokens; ++i) {
        Token t;
        if (i == 0 && bosAdded) {
            t.id = 1;
            t.piece = "<s>";
            t.display = "<s>";
            t.special = true;
        } else {
            const int w = (i - (bosAdded ? 1 : 0)) % int(std::size(words));
            const std::string text = words[w];
            t.id = 100 + w;
            t.piece = text == "\n" ? "<0x0A>" : text;
            if (!t.piece.empty() && t.piece[0] == ' ')
                t.piece = "\xE2\x96\x81" + t.piece.substr(1); // "▁" as in SentencePiece vocabularies
            t.display = text;
            t.start = offset;
            t.end = offset + int64_t(text.size());
            offset = t.end;
        }
        e.tokens.push_back(t);
    }
    return e;
}

float cannedValue(int layer, int kvHead, int element, int dim)
{
    const float base = float(1 + ((layer + kvHead + element + dim) % 5)) * (dim % 2 ? -1.0f : 1.0f);
    return element == 0 ? 0.01f * base : base;
}

float cannedHidden(int state, int element, int dim)
{
    if (state == 2 && element == 0 && dim == 3)
        return 5000.0f;
    return 0.1f * float(1 + ((state + element * 3 + dim) % 7)) * (dim % 3 ? 1.0f : -1.0f);
}

std::shared_ptr<RunResult> makeCannedRun(const CannedRun& spec)
{
    auto r = std::make_shared<RunResult>();
    r->requestId = 7;
    r->model.name = "canned-test";
    r->model.modelType = "llama";
    r->model.layers = spec.layers;
    r->model.heads = spec.heads;
    r->model.kvHeads = spec.heads;
    r->model.headDim = 8;
    r->model.hiddenSize = 8 * spec.heads;
    r->model.vocabSize = 128;
    r->model.attention = spec.attention;
    r->device = "cpu";
    r->dtype = "float32";
    r->encoding = makeCannedEncoding(spec.tokens, spec.bosAdded);
    r->tokens = spec.tokens;
    const int T = spec.tokens;
    const bool causal = spec.attention == "causal";

    std::vector<float> all(size_t(spec.layers) * size_t(spec.heads) * size_t(T) * size_t(T), 0.0f);
    r->firstTokenMass = RowMatrixXf::Zero(spec.layers, spec.heads);
    for (int l = 0; l < spec.layers; ++l) {
        for (int h = 0; h < spec.heads; ++h) {
            float* base = all.data() + (size_t(l) * size_t(spec.heads) + size_t(h)) * size_t(T) * size_t(T);
            for (int q = 0; q < T; ++q) {
                const int visible = causal ? q + 1 : T;
                double sum = 0.0;
                for (int k = 0; k < visible; ++k) {
                    double w = 1.0 + ((l * 7 + h * 3 + q * 5 + k * 11) % 13);
                    if (k == 0)
                        w *= (1.0 + 2.0 * l + 0.5 * h) * (l >= 1 ? spec.sinkBoost : 1.0);
                    base[q * T + k] = float(w);
                    sum += w;
                }
                for (int k = 0; k < visible; ++k)
                    base[q * T + k] = float(base[q * T + k] / sum);
            }
            r->firstTokenMass(l, h) = firstTokenMassOf(Eigen::Map<const RowMatrixXf>(base, T, T));
        }
    }
    if (spec.withAttention)
        r->attention = std::move(all);
    const int hd = r->model.headDim;
    if (spec.withValues) {
        r->values.shape = {spec.layers, spec.heads, T, hd};
        r->values.data.resize(size_t(spec.layers) * size_t(spec.heads) * size_t(T) * size_t(hd));
        size_t i = 0;
        for (int l = 0; l < spec.layers; ++l)
            for (int g = 0; g < spec.heads; ++g)
                for (int t = 0; t < T; ++t)
                    for (int d = 0; d < hd; ++d)
                        r->values.data[i++] = cannedValue(l, g, t, d);
    }
    if (spec.withHidden) {
        const int D = r->model.hiddenSize;
        r->hidden.shape = {spec.layers + 1, T, D};
        r->hidden.data.resize(size_t(spec.layers + 1) * size_t(T) * size_t(D));
        size_t i = 0;
        for (int s = 0; s <= spec.layers; ++s)
            for (int t = 0; t < T; ++t)
                for (int d = 0; d < D; ++d)
                    r->hidden.data[i++] = cannedHidden(s, t, d);
    }
    return r;
}

} // namespace sinkscope::test
