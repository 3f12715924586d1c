// SPDX-License-Identifier: GPL-3.0-or-later
#include "fuzztargets.h"

#include "sinkscope/error.h"
#include "sinkscope/modelconfig.h"
#include "sinkscope/safetensors.h"
#include "sinkscope/tokenizer.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

namespace sinkscope::fuzz {

namespace {

// Every message is escaped (escapeForDisplay): text from a hostile file never carries a control
// character or a terminal escape sequence into what is printed.
bool printable(const Error& e)
{
    for (const std::string& s : {std::string(e.what()), e.context()})
        for (const char c : s)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
                return false;
    return true;
}

} // namespace

Outcome safetensorsHeader(const uint8_t* data, std::size_t size)
{
    SafetensorsHeader h;
    try {
        h = parseSafetensorsHeader(reinterpret_cast<const std::byte*>(data), size, size, "fuzz.safetensors");
    } catch (const Error& e) {
        return printable(e) ? Outcome::Rejected : Outcome::InvariantBroken;
    }
    // What the parser promises about an accepted file: the tensors tile the data area exactly and
    // every span holds exactly shape x dtype bytes.
    if (h.dataOffset < 8 || h.dataOffset > size)
        return Outcome::InvariantBroken;
    uint64_t cursor = 0;
    std::size_t budget = 1 << 20;
    for (const TensorInfo& t : h.tensors) {
        if (t.begin != cursor || t.end < t.begin)
            return Outcome::InvariantBroken;
        uint64_t numel = 1;
        for (int64_t d : t.shape) {
            if (d < 0)
                return Outcome::InvariantBroken;
            numel *= static_cast<uint64_t>(d);
        }
        if (numel * dtypeSize(t.dtype) != t.end - t.begin)
            return Outcome::InvariantBroken;
        cursor = t.end;
        // Copy small tensors out and convert them, as the loader does; under ASan any span the
        // parser let through that is not inside the input shows up here.
        const std::size_t nbytes = static_cast<std::size_t>(t.end - t.begin);
        if (nbytes <= budget) {
            budget -= nbytes;
            HostTensor ht = HostTensor::allocate(t.name, t.dtype, t.shape);
            if (ht.nbytes != nbytes)
                return Outcome::InvariantBroken;
            if (nbytes)
                std::memcpy(ht.data.get(), data + h.dataOffset + t.begin, nbytes);
            const std::vector<float> values = ht.toFloats();
            if (values.size() != numel)
                return Outcome::InvariantBroken;
        }
    }
    if (h.dataOffset + cursor != size)
        return Outcome::InvariantBroken;
    return Outcome::Accepted;
}

Outcome modelConfig(const uint8_t* data, std::size_t size)
{
    ModelConfig c;
    try {
        c = ModelConfig::fromJson(std::string(reinterpret_cast<const char*>(data), size), "fuzz/config.json");
    } catch (const Error& e) {
        return printable(e) ? Outcome::Rejected : Outcome::InvariantBroken;
    }
    // What the engine relies on after a successful parse.
    const bool sizesOk = c.hiddenSize > 0 && c.intermediateSize > 0 && c.numLayers > 0 && c.numHeads > 0 &&
                         c.numKvHeads > 0 && c.numHeads % c.numKvHeads == 0 && c.headDim > 0 && c.vocabSize > 0 &&
                         c.maxPositionEmbeddings > 0;
    const bool numbersOk = c.normEps > 0 && std::isfinite(c.normEps) && c.ropeTheta > 0 && std::isfinite(c.ropeTheta);
    const RopeScaling& r = c.ropeScaling;
    const bool ropeOk = (r.type == "default" || r.type == "linear" || r.type == "dynamic" || r.type == "llama3") &&
                        r.factor > 0 && (r.type != "llama3" || (r.highFreqFactor > r.lowFreqFactor &&
                                                                r.originalMaxPositionEmbeddings > 0)) &&
                        (r.type != "dynamic" || r.originalMaxPositionEmbeddings > 0);
    const bool windowOk = !c.slidingWindow || *c.slidingWindow > 0;
    bool typeOk = false;
    for (const std::string& t : ModelConfig::supportedModelTypes())
        typeOk = typeOk || t == c.modelType;
    if (!(sizesOk && numbersOk && ropeOk && windowOk && typeOk))
        return Outcome::InvariantBroken;
    return Outcome::Accepted;
}

namespace {

// Code points of valid UTF-8 (the encoder's offsets count them).
int64_t codePoints(const std::string& utf8)
{
    return std::count_if(utf8.begin(), utf8.end(), [](char c) { return (static_cast<uint8_t>(c) & 0xC0) != 0x80; });
}

// Encodes `text` and checks what callers of the encoder rely on: ids inside the vocabulary,
// offsets inside the text, the BOS policy honoured, ids that round-trip through fromIds, and
// decoding that fails only with an Error.
Outcome encodeAndCheck(const Tokenizer& tok, const std::string& text, BosPolicy bos)
{
    Encoding enc;
    try {
        enc = tok.encode(text, bos);
    } catch (const Error& e) {
        return printable(e) ? Outcome::Rejected : Outcome::InvariantBroken; // invalid UTF-8, or BOS asked of a tokenizer that has none
    }
    const int64_t n = codePoints(text);
    const int32_t vocab = tok.vocabSize();
    for (const Token& t : enc.tokens) {
        if (t.id < 0 || t.id >= vocab)
            return Outcome::InvariantBroken;
        if (t.start < 0 || t.start > t.end || t.end > n)
            return Outcome::InvariantBroken;
        (void)tok.piece(t.id);
        (void)tok.display(t.id);
    }
    if (bos == BosPolicy::On) {
        const std::optional<int32_t> b = tok.bosId();
        if (!b || enc.tokens.empty() || enc.tokens.front().id != *b)
            return Outcome::InvariantBroken;
    }
    if (bos == BosPolicy::Off && enc.bosAdded)
        return Outcome::InvariantBroken;
    const std::vector<int32_t> ids = enc.ids();
    try {
        if (tok.fromIds(ids).ids() != ids)
            return Outcome::InvariantBroken;
    } catch (const Error&) {
        return Outcome::InvariantBroken; // the encoder produced an id the tokenizer cannot name
    }
    try {
        (void)tok.decode(ids);
        (void)tok.decode(ids, true);
    } catch (const Error&) {
    }
    return Outcome::Accepted;
}

// The committed tokenizers the encoder target uses, in file-name order.
const std::vector<std::shared_ptr<const Tokenizer>>& encoderTokenizers()
{
    static const std::vector<std::shared_ptr<const Tokenizer>> all = [] {
        std::vector<std::string> paths;
        for (const auto& e : std::filesystem::directory_iterator(SINKSCOPE_FUZZ_TOKENIZER_DIR))
            if (e.path().extension() == ".json")
                paths.push_back(e.path().string());
        std::sort(paths.begin(), paths.end());
        std::vector<std::shared_ptr<const Tokenizer>> out;
        for (const std::string& p : paths) {
            std::ifstream in(p, std::ios::binary);
            out.push_back(Tokenizer::fromJson(std::string(std::istreambuf_iterator<char>(in), {})));
        }
        return out;
    }();
    return all;
}

} // namespace

Outcome tokenizerJson(const uint8_t* data, std::size_t size)
{
    std::shared_ptr<const Tokenizer> tok;
    try {
        tok = Tokenizer::fromJson(std::string(reinterpret_cast<const char*>(data), size));
    } catch (const Error& e) {
        return printable(e) ? Outcome::Rejected : Outcome::InvariantBroken;
    }
    if (!tok || tok->vocabSize() < 0)
        return Outcome::InvariantBroken;
    // Prompts that reach the normalizers, pre-tokenizers, the model's unknown/byte-fallback paths,
    // added tokens and the post-processor.
    static const char* const kPrompts[] = {
        "Hello world, it's 2024!", "", "   ", "a\n\tb  c", "<s> [CLS] </s>[SEP] <mask>", "caf\xc3\xa9 na\xc3\xafve \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac",
        "\xf0\x9f\x98\x80x", "123456789 -- a,b;c", "\xff",
    };
    for (const char* p : kPrompts)
        for (BosPolicy bos : {BosPolicy::Auto, BosPolicy::On, BosPolicy::Off})
            if (encodeAndCheck(*tok, p, bos) == Outcome::InvariantBroken)
                return Outcome::InvariantBroken;
    return Outcome::Accepted;
}

Outcome tokenizerEncode(const uint8_t* data, std::size_t size)
{
    const auto& toks = encoderTokenizers();
    if (toks.empty())
        return Outcome::InvariantBroken;
    if (size == 0)
        return Outcome::Rejected;
    const std::size_t pick = data[0] % toks.size();
    const BosPolicy bos = std::array<BosPolicy, 3>{BosPolicy::Auto, BosPolicy::On, BosPolicy::Off}[(data[0] / toks.size()) % 3];
    return encodeAndCheck(*toks[pick], std::string(reinterpret_cast<const char*>(data) + 1, size - 1), bos);
}

} // namespace sinkscope::fuzz
