// SPDX-License-Identifier: GPL-3.0-or-later
#include "fuzztargets.h"

#include "sinkscope/error.h"
#include "sinkscope/modelconfig.h"
#include "sinkscope/safetensors.h"

#include <cmath>
#include <cstring>
#include <string>

namespace sinkscope::fuzz {

Outcome safetensorsHeader(const uint8_t* data, std::size_t size)
{
    SafetensorsHeader h;
    try {
        h = parseSafetensorsHeader(reinterpret_cast<const std::byte*>(data), size, size, "fuzz.safetensors");
    } catch (const Error&) {
        return Outcome::Rejected;
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
    } catch (const Error&) {
        return Outcome::Rejected;
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

} // namespace sinkscope::fuzz
