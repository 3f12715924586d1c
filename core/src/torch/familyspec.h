// SPDX-License-Identifier: GPL-3.0-or-later
// Model families as data: one table row per config.json model_type drives the one generic
// transformer in transformer.cpp. Adding a family is a row here plus a test.
#pragma once

#include <string>
#include <vector>

namespace sinkscope::detail {

enum class NormKind { RmsNorm };
enum class PositionKind { Rope };
enum class MlpKind { GatedSilu };

/// Tensor names and switches of one family. "{i}" in a name stands for the layer index.
struct FamilySpec {
    std::string modelType;
    NormKind norm = NormKind::RmsNorm;
    PositionKind position = PositionKind::Rope;
    MlpKind mlp = MlpKind::GatedSilu;
    bool causal = true;

    std::string embedTokens;
    std::string finalNorm;
    std::string lmHead;
    std::string inputNorm;     ///< per layer, before attention
    std::string postAttnNorm;  ///< per layer, before the MLP
    std::string qProj, kProj, vProj, oProj; ///< weight names without ".weight"/".bias"
    std::string gateProj, upProj, downProj;
};

/// The row for `modelType`, or nullptr when the family is not supported.
const FamilySpec* findFamily(const std::string& modelType);

/// Replaces "{i}" by the layer index.
std::string layerName(const std::string& pattern, int layer);

} // namespace sinkscope::detail
