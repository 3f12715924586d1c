// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace sinkscope {

/// RoPE frequency scaling from config.json "rope_scaling" (HF `rope_type`/`type`).
struct RopeScaling {
    std::string type = "default"; ///< default | linear | dynamic | llama3
    double factor = 1.0;
    double lowFreqFactor = 1.0;        ///< llama3
    double highFreqFactor = 4.0;       ///< llama3
    int originalMaxPositionEmbeddings = 0; ///< llama3; dynamic: as given, else max_position_embeddings
};

/// The architecture hyper-parameters read from config.json, validated for consistency.
struct ModelConfig {
    std::string modelType;      ///< "llama", "mistral", "qwen2", ...
    int hiddenSize = 0;
    int intermediateSize = 0;
    int numLayers = 0;
    int numHeads = 0;
    int numKvHeads = 0;         ///< == numHeads without GQA
    int headDim = 0;            ///< config "head_dim" or hiddenSize / numHeads
    int vocabSize = 0;
    int maxPositionEmbeddings = 0;
    double normEps = 1e-6;      ///< rms_norm_eps / layer_norm_eps
    double ropeTheta = 10000.0;
    RopeScaling ropeScaling;
    bool tieWordEmbeddings = false;
    bool attentionBias = false; ///< q/k/v biases (qwen2 always true)
    bool mlpBias = false;       ///< llama "mlp_bias": biases on gate/up/down projections
    std::string hiddenAct = "silu";
    std::optional<int> slidingWindow; ///< mistral/qwen2 when configured and enabled
    int slidingWindowFromLayer = 0;   ///< first layer the window applies to (qwen2 max_window_layers)
    std::optional<int> bosTokenId;
    std::optional<int> eosTokenId;    ///< the first one when config.json lists several
    std::string torchDtype = "float32"; ///< as stored in config.json

    /// Parses config.json text. Throws Error(Format) on malformed JSON / missing or invalid keys,
    /// Error(Unsupported) on an unknown model_type or rope_scaling kind. `source` names the file.
    static ModelConfig fromJson(const std::string& jsonText, const std::string& source = "config.json");
    static ModelConfig fromFile(const std::string& path);

    /// model_type values this build can run.
    static std::vector<std::string> supportedModelTypes();
};

} // namespace sinkscope
