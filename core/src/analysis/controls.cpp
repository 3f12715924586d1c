// SPDX-License-Identifier: GPL-3.0-or-later
// Control specs, their interventions and output costs (docs/METHODS.md, "Controls").
#include "sinkscope/controls.h"

#include "sinkscope/error.h"

#include <cmath>
#include <limits>
#include <numeric>

namespace sinkscope::analysis {

namespace {

[[noreturn]] void bad(const std::string& m)
{
    throw Error(ErrorCode::InvalidArgument, m);
}

int parseInt(const std::string& s, const std::string& spec, const char* what)
{
    size_t used = 0;
    long v = 0;
    try {
        v = std::stol(s, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (s.empty() || used != s.size() || v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
        bad("Control '" + spec + "': " + what + " must be an integer, got '" + s + "'.");
    return int(v);
}

} // namespace

ControlSpec parseControlSpec(const std::string& text)
{
    ControlSpec s;
    s.text = text;
    const size_t colon = text.find(':');
    if (colon == std::string::npos)
        bad("Control '" + text + "' is not one of block:J, designate:J, positions:shift=D, positions:J=0, evict:K,W.");
    const std::string kind = text.substr(0, colon), arg = text.substr(colon + 1);
    if (kind == "block" || kind == "designate") {
        s.kind = kind == "block" ? ControlSpec::Kind::Block : ControlSpec::Kind::Designate;
        s.element = parseInt(arg, text, "J");
        if (s.element < 0)
            bad("Control '" + text + "': J must be an element index (0 or more).");
    } else if (kind == "positions") {
        const size_t eq = arg.find('=');
        if (eq == std::string::npos)
            bad("Control '" + text + "': use positions:shift=D or positions:J=0.");
        const std::string left = arg.substr(0, eq), right = arg.substr(eq + 1);
        if (left == "shift") {
            s.kind = ControlSpec::Kind::Shift;
            s.shift = parseInt(right, text, "D");
            if (s.shift < 0)
                bad("Control '" + text + "': D must be 0 or more (position ids start at 0).");
        } else {
            s.kind = ControlSpec::Kind::PositionZero;
            s.element = parseInt(left, text, "J");
            if (s.element < 0)
                bad("Control '" + text + "': J must be an element index (0 or more).");
            if (right != "0")
                bad("Control '" + text + "': only positions:J=0 is supported (J gets the first element's position id).");
        }
    } else if (kind == "evict") {
        const size_t comma = arg.find(',');
        if (comma == std::string::npos)
            bad("Control '" + text + "': use evict:K,W.");
        s.kind = ControlSpec::Kind::Evict;
        s.sinks = parseInt(arg.substr(0, comma), text, "K");
        s.window = parseInt(arg.substr(comma + 1), text, "W");
        if (s.sinks < 0)
            bad("Control '" + text + "': K must be 0 or more.");
        if (s.window < 1)
            bad("Control '" + text + "': W must be at least 1 (a query always sees itself).");
        if (s.sinks + s.window < 2)
            bad("Control '" + text + "': K + W must be at least 2 (with K + W = 1 every query sees only itself).");
    } else {
        bad("Control '" + text + "' is not one of block:J, designate:J, positions:shift=D, positions:J=0, evict:K,W.");
    }
    return s;
}

Interventions controlInterventions(const ControlSpec& s, int64_t T, bool causal, int64_t maxPositions)
{
    Interventions iv;
    const float ninf = -std::numeric_limits<float>::infinity();
    const bool usesElement = s.kind == ControlSpec::Kind::Block || s.kind == ControlSpec::Kind::Designate
        || s.kind == ControlSpec::Kind::PositionZero;
    if (usesElement && s.element >= T)
        bad("Control '" + s.text + "': element " + std::to_string(s.element) + " is outside the prompt (elements 0.."
            + std::to_string(T - 1) + ").");
    auto identity = [&] {
        std::vector<int64_t> p(static_cast<size_t>(T));
        std::iota(p.begin(), p.end(), int64_t(0));
        return p;
    };
    switch (s.kind) {
    case ControlSpec::Kind::Block:
        iv.maskBias.assign(size_t(T * T), 0.0f);
        for (int64_t t = 0; t < T; ++t)
            if (t != s.element)
                iv.maskBias[size_t(t * T + s.element)] = ninf;
        break;
    case ControlSpec::Kind::Designate: {
        iv.maskBias.assign(size_t(T * T), 0.0f);
        const int64_t J = s.element;
        // Queries from J on see keys from J on; bidirectional models: every query does.
        for (int64_t t = causal ? J : 0; t < T; ++t)
            for (int64_t k = 0; k < J; ++k)
                iv.maskBias[size_t(t * T + k)] = ninf;
        iv.positionIds = identity();
        for (int64_t t = J; t < T; ++t)
            iv.positionIds[size_t(t)] = t - J;
        break;
    }
    case ControlSpec::Kind::Shift:
        if (T + s.shift > maxPositions)
            bad("Control '" + s.text + "': position ids up to " + std::to_string(T - 1 + s.shift)
                + " are outside the model's 0.." + std::to_string(maxPositions - 1) + ".");
        iv.positionIds = identity();
        for (int64_t& p : iv.positionIds)
            p += s.shift;
        break;
    case ControlSpec::Kind::PositionZero:
        iv.positionIds = identity();
        iv.positionIds[size_t(s.element)] = 0;
        break;
    case ControlSpec::Kind::Evict:
        if (!causal)
            bad("Control '" + s.text + "': eviction is for causal models (a bidirectional model has no recent window).");
        iv.maskBias.assign(size_t(T * T), 0.0f);
        for (int64_t t = 0; t < T; ++t)
            for (int64_t k = 0; k <= t; ++k)
                if (!(k < s.sinks || t - k < s.window))
                    iv.maskBias[size_t(t * T + k)] = ninf;
        break;
    }
    return iv;
}

Interventions designatedEviction(const ControlSpec& s, int64_t T)
{
    Interventions iv;
    const int64_t d = s.sinks;
    if (s.kind != ControlSpec::Kind::Evict || d < 1 || d >= T)
        return iv;
    const float ninf = -std::numeric_limits<float>::infinity();
    iv.maskBias.assign(size_t(T * T), 0.0f);
    for (int64_t t = 0; t < T; ++t)
        for (int64_t k = 0; k <= t; ++k)
            if (!(k == d || t - k < s.window))
                iv.maskBias[size_t(t * T + k)] = ninf;
    iv.positionIds.resize(size_t(T));
    std::iota(iv.positionIds.begin(), iv.positionIds.end(), int64_t(0));
    iv.positionIds[size_t(d)] = 0;
    return iv;
}

std::vector<double> tokenNll(const std::vector<float>& logits, const std::vector<int32_t>& ids, int64_t V, bool causal)
{
    const int64_t T = int64_t(ids.size());
    std::vector<double> out;
    for (int64_t t = 0; t < (causal ? T - 1 : T); ++t) {
        const float* row = logits.data() + t * V;
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t v = 0; v < V; ++v)
            mx = std::max(mx, double(row[v]));
        double z = 0.0;
        for (int64_t v = 0; v < V; ++v)
            z += std::exp(double(row[v]) - mx);
        const int32_t target = ids[size_t(causal ? t + 1 : t)];
        out.push_back(-(double(row[target]) - mx - std::log(z)));
    }
    return out;
}

std::vector<double> klPerPosition(const std::vector<float>& a, const std::vector<float>& b, int64_t T, int64_t V)
{
    std::vector<double> out(size_t(T), 0.0);
    auto logSoftmax = [V](const float* row, std::vector<double>& ls) {
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t v = 0; v < V; ++v)
            mx = std::max(mx, double(row[v]));
        double z = 0.0;
        for (int64_t v = 0; v < V; ++v)
            z += std::exp(double(row[v]) - mx);
        const double lz = mx + std::log(z);
        for (int64_t v = 0; v < V; ++v)
            ls[size_t(v)] = double(row[v]) - lz;
    };
    std::vector<double> la(static_cast<size_t>(V)), lb(static_cast<size_t>(V));
    for (int64_t t = 0; t < T; ++t) {
        logSoftmax(a.data() + t * V, la);
        logSoftmax(b.data() + t * V, lb);
        double kl = 0.0;
        for (int64_t v = 0; v < V; ++v)
            if (std::isfinite(la[size_t(v)]))
                kl += std::exp(la[size_t(v)]) * (la[size_t(v)] - lb[size_t(v)]);
        // Rounding can leave a tiny negative sum for identical distributions.
        out[size_t(t)] = std::max(0.0, kl);
    }
    return out;
}

} // namespace sinkscope::analysis
