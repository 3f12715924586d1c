// SPDX-License-Identifier: GPL-3.0-or-later
// Internals of the demo model generator: a platform-independent random source, a small matrix
// type, the dimension plan both demo models share, and the pieces each model is assembled from.
#pragma once

#include "sinkscope/safetensors.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sinkscope::demo {

// Both models: 4 layers, width 64, 4 heads of 16, MLP 256, 256 positions.
constexpr int kLayers = 4;
constexpr int kHidden = 64;
constexpr int kHeads = 4;
constexpr int kHeadDim = kHidden / kHeads;
constexpr int kFfn = 4 * kHidden;
constexpr int kPositions = 256;

// The dimension plan of the residual stream. Ordinary weights only read and write the "content"
// dimensions [0, 48); the dimensions from 48 up are reserved for planted flags, so a flag is never
// disturbed by a random head and a random head never sees a flag.
constexpr int kTokenDimBegin = 0;    // token identity (word/token embedding)
constexpr int kTokenDimEnd = 40;
constexpr int kPositionDimBegin = 40; // position (and token type) identity
constexpr int kPositionDimEnd = 48;
constexpr int kContentDimEnd = 48;
constexpr int kDimPosition0 = 48; // decoder: set only in position embedding 0
constexpr int kDimDot = 49;       // decoder: set only in the "." token embedding
constexpr int kDimMassive = 50;   // decoder: written by layer 1's MLP on position 0
constexpr int kDimSep = 48;       // encoder: set only in the [SEP] word embedding

// Planted layer/head coordinates (see the comments in decoder.cpp / encoder.cpp).
constexpr int kDecPositionalLayer = 0, kDecPositionalHead = 0;
constexpr int kDecDotLayer = 0, kDecDotHead = 1;
constexpr int kDecMassiveHeadLayer = 2, kDecMassiveHead = 0;
constexpr int kDecMassiveMlpLayer = 1;
constexpr int kEncSepLayer = 1, kEncSepHead = 0;

/// splitmix64: the same sequence on every platform and standard library (std::*_distribution are
/// implementation-defined, which would make the written bytes differ between builds).
class Rng {
public:
    explicit Rng(uint64_t seed) : m_state(seed) {}
    uint64_t next();
    /// Uniform in [-1, 1), a multiple of 2^-23: exact in float, no libm involved.
    float uniform();

private:
    uint64_t m_state;
};

/// Row-major float matrix; weights are built as math matrices y = x . W with W [in, out] and
/// transposed where the checkpoint layout is nn.Linear's [out, in].
struct Mat {
    int rows = 0;
    int cols = 0;
    std::vector<float> v;
    Mat() = default;
    Mat(int r, int c) : rows(r), cols(c), v(size_t(r) * size_t(c), 0.0f) {}
    float& at(int r, int c) { return v[size_t(r) * size_t(cols) + size_t(c)]; }
    float at(int r, int c) const { return v[size_t(r) * size_t(cols) + size_t(c)]; }
    Mat transposed() const;
    /// Fills rows [r0, r1) x columns [c0, c1) with amplitude * U(-1, 1).
    void randomBlock(Rng& rng, int r0, int r1, int c0, int c1, float amplitude);
    /// Subtracts, per column c in [c0, c1), the mean over rows [r0, r1): a reader whose input rows
    /// sum to zero ignores any constant added to those input dimensions (LayerNorm's centring).
    void zeroColumnMeans(int r0, int r1, int c0, int c1);
    /// Subtracts, per row r in [r0, r1), the mean over columns [c0, c1).
    void zeroRowMeans(int r0, int r1, int c0, int c1);
};

/// A vector of `n` values, amplitude * U(-1, 1) in [b, e), zero elsewhere.
std::vector<float> randomVector(Rng& rng, int n, int b, int e, float amplitude);

HostTensor tensor(const std::string& name, const Mat& m);
HostTensor tensor(const std::string& name, const std::vector<float>& v);

/// The model's vocabulary in id order (specials first).
std::vector<std::string> decoderVocab();
std::vector<std::string> encoderVocab();
/// Index of `piece` in `vocab`; throws Error(Internal) when absent.
int vocabId(const std::vector<std::string>& vocab, const std::string& piece);

/// tokenizer.json / tokenizer_config.json texts.
std::string decoderTokenizerJson();
std::string decoderTokenizerConfigJson();
std::string encoderTokenizerJson();
std::string encoderTokenizerConfigJson();

/// The tensors of model.safetensors, in the order they are written.
std::vector<HostTensor> decoderTensors();
std::vector<HostTensor> encoderTensors();

/// Target massive activation value of the decoder (see decoder.cpp).
constexpr double kDecMassiveValue = 2000.0;

} // namespace sinkscope::demo
