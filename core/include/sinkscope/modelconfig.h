// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/modeldimensions.h"

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

/// How a family normalises the residual stream.
enum class NormKind {
    Rms,          ///< x / rms(x) * w (Llama: the product in the model dtype)
    RmsUnitOffset, ///< x / rms(x) * (1 + w), the product in fp32 (Gemma)
    Layer,        ///< (x - mean) / std * w + b (GPT-2, GPT-NeoX, OPT, BERT)
};

/// How positions enter the model.
enum class PositionKind {
    Rope,    ///< rotary, on q and k inside attention
    Learned, ///< an absolute position table added to the token embeddings
    None,
    Alibi,
};

/// "rope" | "learned" | "none" | "alibi" (ModelInfo::position, run.json).
const char* positionKindName(PositionKind kind);

/// The architecture hyper-parameters read from config.json, validated for consistency. Keys a
/// config omits take the default of that model_type's Hugging Face configuration class.
struct ModelConfig {
    std::string modelType;      ///< "llama", "gpt2", "bert", ... (see supportedModelTypes())
    int hiddenSize = 0;
    int intermediateSize = 0;   ///< MLP width (gpt2 n_inner, opt ffn_dim)
    int numLayers = 0;
    int numHeads = 0;
    int numKvHeads = 0;         ///< == numHeads without GQA
    int headDim = 0;            ///< config "head_dim" (or the family's default) or hiddenSize / numHeads
    int vocabSize = 0;
    int maxPositionEmbeddings = 0; ///< as configured (the learned table of OPT has 2 more rows)
    int maxTokens = 0;          ///< the longest input the positions allow (RoBERTa: max_position - padding_idx - 1)
    double normEps = 1e-6;      ///< rms_norm_eps / layer_norm_eps / layer_norm_epsilon (OPT: 1e-5)
    double ropeTheta = 10000.0; ///< rope_theta (gpt_neox rotary_emb_base)
    RopeScaling ropeScaling;
    double rotaryFraction = 1.0; ///< partial_rotary_factor / rotary_pct: RoPE on the first rotaryDim() dims of a head
    bool tieWordEmbeddings = false;
    bool attentionBias = false; ///< q/k/v biases (qwen2 always true)
    bool outputBias = false;    ///< a bias on the attention output projection
    bool mlpBias = false;       ///< biases on the MLP projections
    std::string hiddenAct = "silu"; ///< the MLP activation (HF ACT2FN name)
    std::optional<int> slidingWindow; ///< window size when some layer uses one
    int slidingWindowFromLayer = 0;   ///< qwen2 max_window_layers (kept for reference; see slidingLayers)
    std::vector<bool> slidingLayers;  ///< [numLayers]: whether the window applies to that layer
    std::optional<int> bosTokenId;
    std::optional<int> eosTokenId;    ///< the first one when config.json lists several
    std::optional<int> padTokenId;
    std::string torchDtype = "float32"; ///< as stored in config.json
    bool syntheticDemo = false;         ///< "sinkscope_demo": {"synthetic": true}: made by the demo generator, not trained

    // Structure that varies within or between families.
    NormKind norm = NormKind::Rms;
    PositionKind position = PositionKind::Rope;
    bool causal = true;               ///< false: bidirectional encoder (bert, roberta)
    bool normBefore = true;           ///< pre-LN; false: post-LN (bert, roberta, opt do_layer_norm_before=false)
    bool finalNorm = true;            ///< a final norm before the output head (absent in post-LN models)
    bool normAffine = true;           ///< the norms have weights (opt layer_norm_elementwise_affine)
    bool parallelResidual = false;    ///< gpt_neox use_parallel_residual: x + attn(ln1 x) + mlp(ln2 x)
    int positionOffset = 0;           ///< learned tables: row = position + offset (opt 2, roberta padding_idx + 1)
    int typeVocabSize = 0;            ///< bert/roberta token-type embeddings (type 0 is used)
    int wordEmbedProjDim = 0;         ///< opt: embedding width; != hiddenSize means project_in/out
    double attnSoftcap = 0.0;         ///< gemma2 attn_logit_softcapping (0: none)
    double finalSoftcap = 0.0;        ///< gemma2 final_logit_softcapping (0: none)
    double queryPreAttnScalar = 0.0;  ///< gemma2: logits scaled by this^-1/2 (0: head_dim)
    bool scaleAttnWeights = true;     ///< gpt2 scale_attn_weights
    bool scaleAttnByInverseLayerIdx = false; ///< gpt2: logits also divided by layer + 1
    bool reorderAndUpcastAttn = false; ///< gpt2: q.k in fp32 (same numbers in an fp32 run)

    /// The model's shape as a run reports it (maxPositions = maxTokens).
    ModelDimensions dimensions() const;
    /// Dimensions of each head that RoPE rotates: int(headDim * rotaryFraction) (0 without RoPE).
    int rotaryDim() const;
    /// The factor on q.k in layer `layer` (before any soft-capping).
    double attentionScale(int layer) const;
    /// The sliding window of layer `layer`, 0 when it attends to every earlier position.
    int windowForLayer(int layer) const;

    /// Parses config.json text. Throws Error(Format) on malformed JSON / missing or invalid keys,
    /// Error(Unsupported) on an unknown model_type, rope_scaling kind, activation or variant.
    /// `source` names the file.
    static ModelConfig fromJson(const std::string& jsonText, const std::string& source = "config.json");
    static ModelConfig fromFile(const std::string& path);

    /// model_type values this build can run (each one checked against an independent reference).
    static std::vector<std::string> supportedModelTypes();
    /// hidden_act / activation_function values the MLP implements.
    static std::vector<std::string> supportedActivations();
};

} // namespace sinkscope
