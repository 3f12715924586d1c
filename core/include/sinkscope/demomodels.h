// SPDX-License-Identifier: GPL-3.0-or-later
// Built-in demo models: small synthetic checkpoints in exact Hugging Face layout whose attention
// heads are constructed analytically (not trained) so that known heads have known waivers. They are
// the app's default model and the ground truth for the analysis tests. How each mechanism is
// planted is written next to the code in core/src/demo/.
#pragma once

#include <string>
#include <vector>

namespace sinkscope {

/// Which demo model.
enum class DemoKind {
    Decoder, ///< GPT-2 layout (model_type gpt2): causal, learned absolute positions
    Encoder  ///< BERT layout (model_type bert): bidirectional, post-LN, MLM head
};

/// "decoder" | "encoder".
const char* demoKindName(DemoKind kind);
/// Parses "decoder" | "encoder". Throws Error(InvalidArgument).
DemoKind parseDemoKind(const std::string& text);
/// Every kind, in a fixed order.
std::vector<DemoKind> allDemoKinds();

/// Version of the generator's output. It changes whenever the bytes written change, so cached
/// copies (e.g. the GUI's app-data folder "demo-models/<version>/<kind>") can be keyed by it.
std::string demoModelVersion();

/// Folder name the demo model is conventionally written to: "sinkscope-demo-decoder" / "-encoder".
std::string demoModelName(DemoKind kind);

/// Writes the demo model into `dir` (created if needed): config.json, model.safetensors,
/// tokenizer.json, tokenizer_config.json and README.md. Deterministic: the same bytes every time
/// and on every platform. Files are written atomically. Throws Error(Io) when `dir` is not writable.
void writeDemoModel(DemoKind kind, const std::string& dir);

/// True when `dir` holds a complete demo model of this kind and the current version (the file set
/// is present and config.json carries the matching marker). Cheap: it does not read the weights.
bool isDemoModelDir(DemoKind kind, const std::string& dir);

/// A head built to have a waiver.
struct PlantedHead {
    int layer = 0;
    int head = 0;
    std::string mechanism;   ///< "positional" (chosen by position) | "feature" (chosen by the token's features)
    int waiverPosition = -1; ///< positional: the position of the waiver (0); feature: -1
    std::string waiverToken; ///< feature: the vocabulary string of the waiver ("." / "[SEP]"); positional: ""
    /// Feature heads only: where the head's attention goes when no waiver token is visible to the
    /// query (-1: unspecified). The decoder's "." head falls back to position 0.
    int fallbackPosition = -1;
    std::string description; ///< one sentence: which dimensions its keys read and why values are small
};

/// A planted massive activation (Sun et al. 2024): |h| far above the rest of the residual stream.
struct PlantedMassiveActivation {
    int firstHidden = 0;  ///< first index into hidden [L+1, T, D] where it is present ([0] = embeddings)
    int lastHidden = 0;   ///< last index where it is present
    int dim = 0;          ///< the hidden dimension
    int position = -1;    ///< the element carrying it (0: the first element), -1 when chosen by token
    std::string token;    ///< the token carrying it when chosen by token, else ""
    double approxValue = 0; ///< its value, approximately (it depends a little on the prompt)
};

/// The ground truth of a demo model.
struct DemoGroundTruth {
    std::vector<PlantedHead> heads;
    std::vector<PlantedMassiveActivation> massive;
    /// Hidden dimensions that carry planted flags, by role ("position0", "dot", "sep", "massive").
    std::vector<std::pair<std::string, int>> flagDims;
    /// Prompts whose words are all in the vocabulary (used by tests and the GUI's first run).
    std::vector<std::string> samplePrompts;
};

/// The heads built to have waivers (others are ordinary random heads).
std::vector<PlantedHead> plantedHeads(DemoKind kind);
/// Everything planted in the model of this kind.
DemoGroundTruth demoGroundTruth(DemoKind kind);

} // namespace sinkscope
