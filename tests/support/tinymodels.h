// SPDX-License-Identifier: GPL-3.0-or-later
// Builders of tiny checkpoints in Hugging Face layout for tests: random weights with a fixed seed,
// written as config.json + model.safetensors (+ a small tokenizer.json), and kept in memory so a
// test's independent reference can use the same numbers.
#pragma once

#include <QString>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sinkscope::test {

struct TinyLlamaSpec {
    std::string modelType = "llama";
    int layers = 2;
    int hidden = 16;
    int heads = 4;
    int kvHeads = 4;
    int headDim = 0;          ///< 0: hidden / heads
    int ffn = 24;
    int vocab = 32;
    int maxPositions = 64;
    double ropeTheta = 10000.0;
    double eps = 1e-5;
    bool qkvBias = false;     ///< writes q/k/v biases (qwen2 always has them)
    bool tied = true;         ///< no lm_head.weight
    std::string ropeType;     ///< "" (no rope_scaling), "linear", "dynamic" or "llama3"
    double ropeFactor = 1.0;
    double lowFreqFactor = 1.0;
    double highFreqFactor = 4.0;
    int originalMaxPositions = 0;
    int slidingWindow = 0;    ///< mistral "sliding_window" / qwen2 use_sliding_window + sliding_window when > 0
    int windowFromLayer = 0;  ///< qwen2 "max_window_layers": the first layer with the window
    uint32_t seed = 1;
    float scale = 0.5f;       ///< weights ~ U(-scale, scale) / sqrt(fan_in) * 2
};

/// Float32 weights by tensor name, with shapes.
struct TinyWeights {
    std::map<std::string, std::vector<float>> values;
    std::map<std::string, std::vector<int64_t>> shapes;
    const std::vector<float>& at(const std::string& name) const { return values.at(name); }
};

/// Generates weights for `spec` (deterministic in spec.seed).
TinyWeights makeTinyLlamaWeights(const TinyLlamaSpec& spec);
/// Writes `configJson` as config.json and `weights` as model.safetensors into `dir` (created).
void writeCheckpointDir(const QString& dir, const std::string& configJson, const TinyWeights& weights);
/// Writes config.json and model.safetensors for `spec`/`weights` into `dir` (created).
void writeTinyLlama(const QString& dir, const TinyLlamaSpec& spec, const TinyWeights& weights);
/// The config.json text for `spec`.
std::string tinyLlamaConfigJson(const TinyLlamaSpec& spec);

/// A small SentencePiece-style BPE tokenizer.json (the layout Llama 2 uses): ids 0..2 are
/// <unk> <s> </s>, 3..258 the byte-fallback pieces <0x00>..<0xFF>, 259 "▁", 260..285 "a".."z",
/// then merges "▁"+letter -> 286..311. A TemplateProcessing post-processor adds <s>.
/// Needs a model vocabulary of at least kTinyTokenizerVocab.
std::string tinyTokenizerJson();
constexpr int kTinyTokenizerVocab = 312;
/// Writes a tiny Llama with tokenizer.json (vocab kTinyTokenizerVocab) into `dir`, for prompts of up
/// to `maxPositions` tokens; returns the spec.
TinyLlamaSpec writeTinyLlamaWithTokenizer(const QString& dir, int layers = 2, uint32_t seed = 1, int maxPositions = 128);

/// Independent reference forward pass in double precision with plain loops (no torch, no code
/// shared with the core): returns attention probabilities [L][H][T][T] flattened and logits [T][V].
struct ReferenceOutput {
    std::vector<double> attention; ///< [L][H][T][T]
    std::vector<double> logits;    ///< [T][V]
    std::vector<double> hidden;    ///< [L+1][T][D]
    std::vector<double> values;    ///< [L][Hkv][T][hd]
};
ReferenceOutput referenceLlamaForward(const TinyLlamaSpec& spec, const TinyWeights& w, const std::vector<int32_t>& ids);

} // namespace sinkscope::test
