// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkscope/compare.h"

#include "sinkscope/error.h"

#include <algorithm>

namespace sinkscope {

RunAlignment alignRuns(const std::vector<int32_t>& a, const std::vector<int32_t>& b)
{
    RunAlignment r;
    const int na = int(a.size()), nb = int(b.size());
    r.length = std::min(na, nb);
    if (a == b) {
        r.rule = "same tokens";
        return r;
    }
    if (na != nb && r.length > 0) {
        const auto& longer = na > nb ? a : b;
        const auto& shorter = na > nb ? b : a;
        if (std::equal(shorter.begin(), shorter.end(), longer.end() - long(shorter.size()))) {
            (na > nb ? r.offsetA : r.offsetB) = int(longer.size() - shorter.size());
            r.rule = "end";
            return r;
        }
    }
    r.rule = "start";
    return r;
}

RowMatrixXf attentionDifference(const RunResult& a, const RunResult& b, const RunAlignment& al, int layer, int head)
{
    for (const RunResult* r : {&a, &b}) {
        if (!r->canMakeMaps())
            throw Error(ErrorCode::InvalidArgument, "A run of the comparison kept neither attention maps nor Q and K.");
        if (layer < 0 || layer >= r->model.layers || head < 0 || head >= r->model.heads)
            throw Error(ErrorCode::InvalidArgument, "Layer " + std::to_string(layer) + ", head " + std::to_string(head)
                                                        + " is not in both runs of the comparison.");
    }
    if (al.length < 0 || al.offsetA < 0 || al.offsetB < 0 || al.offsetA + al.length > a.tokens
        || al.offsetB + al.length > b.tokens)
        throw Error(ErrorCode::InvalidArgument, "The alignment of the comparison lies outside its runs.");
    const RowMatrixXf ma = a.attentionMap(layer, head), mb = b.attentionMap(layer, head);
    return mb.block(al.offsetB, al.offsetB, al.length, al.length) - ma.block(al.offsetA, al.offsetA, al.length, al.length);
}

} // namespace sinkscope
