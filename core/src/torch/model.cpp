// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkscope/model.h"

#include "sinkscope/checkpoint.h"
#include "sinkscope/preflight.h"
#include "sinkscope/error.h"
#include "familyspec.h"
#include "sinkscope/threads.h"
#include "torch/torchutil.h"
#include "torch/transformer.h"

#include <c10/core/InferenceMode.h>
#if defined(SINKSCOPE_TORCH_CUDA) // set by core/CMakeLists.txt when libtorch is a CUDA build
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <cmath>
#include <map>
#include <set>
#include <mutex>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <cstdio>
#include <new>

namespace sinkscope {

using namespace detail;

namespace {

bool onlyWhitespace(const std::string& s)
{
    for (unsigned char c : s)
        if (!(c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'))
            return false;
    return true;
}


double g_memoryLimitForTesting = 0;

/// Reads the first number of a small kernel file (0 when absent or "max").
double kernelNumber(const char* path)
{
    std::FILE* f = std::fopen(path, "r");
    if (!f)
        return 0;
    double v = 0;
    if (std::fscanf(f, "%lf", &v) != 1)
        v = 0;
    std::fclose(f);
    return v;
}

/// What the machine really has for this process, in bytes: MemAvailable from /proc/meminfo,
/// lowered to what the cgroup (v2 memory.max, or v1 limit_in_bytes) still allows. 0 when unknown.
/// `source` names where the binding number came from.
double availableHostBytes(std::string* source = nullptr)
{
    double avail = 0;
    if (std::FILE* f = std::fopen("/proc/meminfo", "r")) {
        char line[256];
        double kb = 0;
        while (std::fgets(line, sizeof line, f))
            if (std::sscanf(line, "MemAvailable: %lf kB", &kb) == 1)
                break;
        std::fclose(f);
        avail = kb * 1024.0;
    }
    if (source)
        *source = "MemAvailable";
    double limit = kernelNumber("/sys/fs/cgroup/memory.max");
    double used = kernelNumber("/sys/fs/cgroup/memory.current");
    if (limit <= 0) {
        limit = kernelNumber("/sys/fs/cgroup/memory/memory.limit_in_bytes");
        used = kernelNumber("/sys/fs/cgroup/memory/memory.usage_in_bytes");
        if (limit >= 1e18) // v1 reports "no limit" as a huge number
            limit = 0;
    }
    if (limit > 0) {
        const double left = std::max(0.0, limit - used);
        if (avail <= 0 || left < avail) {
            avail = left;
            if (source)
                *source = "the cgroup memory limit";
        }
    }
    return avail;
}

/// Whether a run of T tokens keeps every attention map: asked for, and within the request's
/// keepAttentionUpTo (past it the run keeps none; a head's map is recomputed from Q and K).
bool keepsAllMaps(const ModelConfig& c, int64_t T, const RunRequest& r)
{
    if (!r.captureAttention)
        return false;
    const double bytes = double(c.numLayers) * double(c.numHeads) * double(T) * double(T) * 4.0;
    return r.keepAttentionUpTo <= 0 || bytes <= double(r.keepAttentionUpTo);
}

/// The host memory one forward pass needs beyond the weights, in bytes: the captures asked for,
/// the summaries, and the largest per-layer working set of the explicit attention (scores, mask
/// and probabilities of one query block: about four [H, rows, T] fp32 tensors at once, plus the
/// [rows, T] mask) and of the MLP. An estimate to refuse a run that cannot fit, not an exact account.
RunMemoryEstimate estimateRun(const ModelConfig& c, int64_t T, const RunRequest& r, int64_t batch = 1)
{
    const double L = double(c.numLayers), H = double(c.numHeads), Hkv = double(c.numKvHeads);
    const double D = double(c.hiddenSize), hd = double(c.headDim), V = double(c.vocabSize);
    const double F = double(std::max<int64_t>(c.intermediateSize, c.hiddenSize)), t = double(T), B = double(batch);
    RunMemoryEstimate e;
    // A [B, T] pass holds B prompts' working set at once (the block rows shrink with B).
    const double rows = double(r.attentionBlockRows > 0 ? std::min<int64_t>(r.attentionBlockRows, T)
                                                        : Transformer::attentionBlockRows(batch, c.numHeads, T));
    e.attention = (4.0 * H + 2.0) * B * rows * t * 4.0;
    e.mlp = B * t * (3.0 * F + 8.0 * D) * 4.0;
    double cap = 0;
    if (keepsAllMaps(c, T, r))
        cap += L * H * t * t;
    if (r.captureLogits)
        cap += t * V;
    if (r.captureHidden)
        cap += (L + 1) * t * D;
    if (r.captureQK)
        cap += L * (H + Hkv) * t * hd;
    if (r.captureValues)
        cap += L * Hkv * t * hd;
    if (r.captureHeadOutputs)
        cap += L * H * t * hd;
    if (r.computeSummaries)
        cap += L * (5.0 * H + Hkv) * t;
    e.captures = cap * 4.0; // of this one request
    return e;
}

/// Free and total memory of a CUDA device in bytes, both 0 when unknown (always so with a
/// libtorch built without CUDA). Blocks the caching allocator holds unused are handed back to the
/// device first, so that memory a previous run left cached counts as free.
void deviceMemory(const at::Device& device, double& freeBytes, double& totalBytes)
{
    freeBytes = totalBytes = 0;
#if defined(SINKSCOPE_TORCH_CUDA)
    c10::cuda::OptionalCUDAGuard guard;
    if (device.has_index())
        guard.set_index(device.index());
    c10::cuda::CUDACachingAllocator::emptyCache();
    size_t f = 0, t = 0;
    if (cudaMemGetInfo(&f, &t) == cudaSuccess) {
        freeBytes = double(f);
        totalBytes = double(t);
    }
#else
    (void)device;
#endif
}

/// Refuses a run whose estimated working set exceeds what the machine has, before any of it is
/// allocated: the kernel's OOM killer (or the device's allocator) must never be the one to say no.
/// The decision itself is preflightRefusal() (preflight.cpp), tested with injected numbers.
void preflightEstimate(const RunMemoryEstimate& e, int64_t T, const at::Device& device)
{
    MemoryAvailable m;
    m.hostBytes = availableHostBytes(&m.hostSource);
    if (g_memoryLimitForTesting > 0 && (m.hostBytes <= 0 || g_memoryLimitForTesting < m.hostBytes)) {
        m.hostBytes = g_memoryLimitForTesting;
        m.hostSource = "a limit set for testing";
    }
    if (device.is_cuda()) {
        m.onDevice = true;
        m.deviceName = deviceText(device);
        deviceMemory(device, m.deviceFreeBytes, m.deviceTotalBytes);
    }
    if (const std::optional<std::string> refusal = preflightRefusal(e, T, m))
        throw Error(ErrorCode::OutOfMemory, *refusal);
}

void preflightRun(const ModelConfig& c, int64_t T, const RunRequest& r, const at::Device& device)
{
    preflightEstimate(estimateRun(c, T, r), T, device);
}

/// Counts the layers the checkpoint holds: the numbered blocks of the largest numbered group
/// ("model.layers.N.", "h.N.", "encoder.layer.N."). 0 when no name has a number.
int64_t checkpointLayerCount(const Checkpoint& ckpt, std::string* group)
{
    std::map<std::string, std::set<int64_t>> groups;
    for (const std::string& name : ckpt.names()) {
        size_t start = 0;
        while (start < name.size()) {
            size_t end = name.find('.', start);
            if (end == std::string::npos)
                end = name.size();
            const std::string part = name.substr(start, end - start);
            if (!part.empty() && part.size() < 10 && part.find_first_not_of("0123456789") == std::string::npos) {
                groups[name.substr(0, start)].insert(std::stoll(part));
                break;
            }
            start = end + 1;
        }
    }
    int64_t best = 0;
    for (const auto& [prefix, numbers] : groups)
        if (int64_t(numbers.size()) > best) {
            best = int64_t(numbers.size());
            if (group)
                *group = prefix;
        }
    return best;
}

/// The config against the weights, before anything is sized from the config: a layer count no
/// checkpoint could back (2^31-1 beside 5 layers) would otherwise be an out-of-memory error.
void validateConfigAgainstCheckpoint(const ModelConfig& c, const Checkpoint& ckpt, const std::string& configPath)
{
    std::string group;
    const int64_t layers = checkpointLayerCount(ckpt, &group);
    if (c.numLayers > layers)
        throw Error(ErrorCode::Format,
                    configPath + " gives " + std::to_string(c.numLayers) + " layers, but the checkpoint holds "
                        + (layers == 0 ? std::string("no numbered layers")
                                       : std::to_string(layers) + (layers == 1 ? " layer (" : " layers (") + group + "0 to "
                                             + group + std::to_string(layers - 1) + ")")
                        + "; the config does not belong to these weights.",
                    configPath);
}

bool allFinite(const float* p, size_t n)
{
    // A float is NaN or infinite exactly when its exponent bits are all ones. Testing the bits of
    // a block without a branch lets the compiler vectorise the scan: the logits alone are
    // T x vocab values (100 M at T = 2048 for GPT-2), scanned after every pass.
    constexpr uint32_t kExponent = 0x7f800000u;
    constexpr size_t kBlock = 4096;
    for (size_t begin = 0; begin < n; begin += kBlock) {
        const size_t end = std::min(n, begin + kBlock);
        uint32_t bad = 0;
        for (size_t i = begin; i < end; ++i) {
            uint32_t bits;
            std::memcpy(&bits, p + i, sizeof bits);
            bad |= uint32_t((bits & kExponent) == kExponent);
        }
        if (bad)
            return false;
    }
    return true;
}

/// NaN or Inf weights run silently through every operation, and a metric over them is no number.
/// After the pass, the per-layer values it produced (summaries [L, H, T] always; hidden states and
/// logits when captured) are scanned, plus the pass's own check of the last layer's output
/// (`lastOutputNonFinite`, so a NaN born in the last MLP is caught with nothing kept); the
/// earliest place a non-finite value shows is named. The scan is O(L*H*T), small beside the pass.
void refuseNonFinite(const RunResult& r, bool lastOutputNonFinite)
{
    const int64_t L = r.model.layers, T = r.tokens;
    // Stages in order: 0 = embeddings, 2l+1 = attention of layer l, 2l+2 = output of layer l,
    // 2L+1 = the output head.
    int64_t first = -1;
    auto note = [&](int64_t stage) {
        if (first < 0 || stage < first)
            first = stage;
    };
    const std::vector<const Tensor*> summaries = {&r.firstMassPerQuery, &r.received, &r.entropy,
                                                  &r.contributionNorms, &r.writtenNorms, &r.valueNorms};
    for (int64_t l = 0; l < L; ++l) {
        bool bad = !allFinite(r.firstTokenMass.row(Eigen::Index(l)).data(), size_t(r.firstTokenMass.cols()));
        for (const Tensor* t : summaries)
            if (!bad && !t->empty() && t->size(0) == L) {
                const size_t per = t->data.size() / size_t(L);
                bad = !allFinite(t->data.data() + size_t(l) * per, per);
            }
        if (bad) {
            note(2 * l + 1);
            break;
        }
    }
    if (!r.hidden.empty() && r.hidden.size(0) == L + 1) {
        const size_t per = r.hidden.data.size() / size_t(L + 1);
        for (int64_t i = 0; i <= L; ++i)
            if (!allFinite(r.hidden.data.data() + size_t(i) * per, per)) {
                note(2 * i);
                break;
            }
    }
    if (lastOutputNonFinite)
        note(2 * L);
    if (!r.logits.empty() && !allFinite(r.logits.data(), r.logits.size()))
        note(2 * L + 1);
    if (first < 0)
        return;
    const std::string tokens = " (layers count from 0, over " + std::to_string(T) + " tokens";
    const std::string broken = " The checkpoint's weights or its config are broken there; no metric is computed "
                               "from such values.";
    if (first == 2 * L && r.hidden.empty() && r.entropy.empty())
        // Only the last layer's output was looked at: the value may have been born in any layer.
        throw Error(ErrorCode::Format,
                    "The forward pass produced NaN or infinite values by the output of layer " + std::to_string(L - 1)
                        + ", the last one" + tokens
                        + "; the run kept no per-layer values that would say where they began)." + broken);
    std::string where;
    if (first == 0)
        where = "in the embeddings";
    else if (first == 2 * L + 1 && !(r.logits.empty()))
        where = "in the output head (the logits)";
    else if (first % 2 == 1)
        where = "in the attention of layer " + std::to_string((first - 1) / 2);
    else
        where = "in the output of layer " + std::to_string((first - 2) / 2);
    throw Error(ErrorCode::Format,
                "The forward pass produced NaN or infinite values, first " + where + tokens + ")." + broken);
}

void validateInterventions(const Interventions& iv, int64_t T, const ModelConfig& c)
{
    auto bad = [](const std::string& m) { throw Error(ErrorCode::InvalidArgument, m); };
    if (!iv.positionIds.empty()) {
        if (int64_t(iv.positionIds.size()) != T)
            bad("The replacement position ids have " + std::to_string(iv.positionIds.size()) + " entries for "
                + std::to_string(T) + " tokens.");
        for (int64_t p : iv.positionIds)
            if (p < 0 || p >= c.maxTokens)
                bad("Position id " + std::to_string(p) + " is outside 0.." + std::to_string(c.maxTokens - 1) + ".");
    }
    if (!iv.maskBias.empty() && int64_t(iv.maskBias.size()) != T * T)
        bad("The attention mask bias must have T x T = " + std::to_string(T * T) + " entries.");
    for (const auto& d : iv.dims)
        if (d.layer < 0 || d.layer > c.numLayers || d.dim < 0 || d.dim >= c.hiddenSize || d.token < -1 || d.token >= T)
            bad("A hidden-dimension overwrite targets layer " + std::to_string(d.layer) + ", dimension "
                + std::to_string(d.dim) + ", token " + std::to_string(d.token) + ", outside the model or prompt.");
    for (const auto& t : iv.tokens)
        if (t.layer < 0 || t.layer > c.numLayers || t.token < 0 || t.token >= T
            || int64_t(t.hidden.size()) != c.hiddenSize)
            bad("A hidden-state overwrite targets layer " + std::to_string(t.layer) + ", token " + std::to_string(t.token)
                + " with " + std::to_string(t.hidden.size()) + " values; it needs a layer 0.."
                + std::to_string(c.numLayers) + ", a token of the prompt and " + std::to_string(c.hiddenSize) + " values.");
}

/// Every layer allocates and frees several [H, T, T] fp32 temporaries (8 MiB each for 8 heads at
/// T = 512). glibc serves blocks that size with fresh mmap()s, so each layer pays page faults for
/// memory it just returned; on virtual machines faults are expensive (a 512-token stories260K pass
/// spent most of its time in the page-fault handler). Keeping blocks up to 32 MiB in the heap and
/// not trimming it below 256 MiB lets the next layer reuse the pages. Process-wide, set once.
void keepTemporariesInHeap()
{
#if defined(__GLIBC__)
    static std::once_flag once;
    std::call_once(once, [] {
        mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
        mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
    });
#endif
}

} // namespace

DevicePreference parseDevicePreference(const std::string& text)
{
    if (text == "auto")
        return DevicePreference::Auto;
    if (text == "cpu")
        return DevicePreference::Cpu;
    if (text == "cuda")
        return DevicePreference::Cuda;
    throw Error(ErrorCode::InvalidArgument, "Device must be auto, cpu or cuda, not '" + text + "'.");
}

void setHostMemoryLimitForTesting(double bytes)
{
    g_memoryLimitForTesting = bytes;
}

bool cudaAvailable()
{
    return at::hasCUDA();
}

double measureSgemmGflops(DevicePreference devicePref, int n, int reps)
{
    return translateTorchErrors("measuring matrix-multiply speed", [&] {
        c10::InferenceMode guard;
        const at::Device device = chooseDevice(devicePref);
        const at::TensorOptions opts = at::TensorOptions().dtype(at::kFloat).device(device);
        const at::Tensor a = at::rand({n, n}, opts), b = at::rand({n, n}, opts);
        at::Tensor c = at::matmul(a, b); // warm-up (thread pool, kernel choice)
        double best = 1e30;
        for (int r = 0; r < reps; ++r) {
            if (device.is_cuda())
                c.cpu(); // synchronise
            const auto t0 = std::chrono::steady_clock::now();
            c = at::matmul(a, b);
            if (device.is_cuda())
                c.cpu();
            best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        return 2.0 * double(n) * double(n) * double(n) / best / 1e9;
    });
}

struct Model::Impl {
    ModelConfig config;
    ModelInfo info;
    std::shared_ptr<const Tokenizer> tokenizer;
    std::unique_ptr<Transformer> transformer;
};

Model::Model() : d(std::make_unique<Impl>()) {}
Model::~Model() = default;

std::unique_ptr<Model> Model::load(const std::string& dir, DevicePreference devicePref, DTypePreference dtypePref)
{
    keepTemporariesInHeap();
    ensureComputeThreads();
    const ModelDirectory md = ModelDirectory::locate(dir);
    ModelConfig config = ModelConfig::fromFile(md.configPath);
    const FamilySpec* spec = findFamily(config.modelType);
    if (!spec)
        throw Error(ErrorCode::Unsupported, "model_type '" + config.modelType + "' is not supported yet.",
                    md.configPath);

    std::unique_ptr<Model> model(new Model());
    Impl& m = *model->d;
    if (!md.tokenizerPath.empty())
        m.tokenizer = Tokenizer::fromFile(md.tokenizerPath, md.tokenizerConfigPath);

    const Checkpoint ckpt = Checkpoint::open(md);
    validateConfigAgainstCheckpoint(config, ckpt, md.configPath);
    translateTorchErrors("loading the weights", [&] {
        c10::InferenceMode guard;
        const at::Device device = chooseDevice(devicePref);
        const at::ScalarType dtype = chooseDtype(dtypePref, device, config.torchDtype);
        m.transformer = std::make_unique<Transformer>(config, *spec, ckpt, device, dtype);
    });

    m.config = config;
    ModelInfo& info = m.info;
    info.name = md.name; // "org/name" for a Hugging Face cache entry, not its snapshot hash
    info.dir = md.dir;   // the resolved folder that holds config.json
    info.modelType = config.modelType;
    info.dimensions() = config.dimensions();
    info.position = positionKindName(config.position);
    info.attention = config.causal ? "causal" : "bidirectional";
    info.synthetic = config.syntheticDemo;
    // Tensors the family does not read (rotary caches, heads for other tasks, parts of another
    // architecture) are skipped; say which, so a surprising checkpoint does not pass unnoticed.
    const std::vector<std::string> unused = ckpt.unreadNames();
    if (!unused.empty()) {
        std::string list;
        for (size_t i = 0; i < unused.size() && i < 5; ++i)
            list += (i ? ", " : "") + unused[i];
        if (unused.size() > 5)
            list += ", ... (" + std::to_string(unused.size()) + " in all)";
        // Tensor names come from the file: escaped, so they cannot inject lines or terminal codes.
        info.notes.push_back(escapeForDisplay("Ignored " + std::to_string(unused.size())
                                              + (unused.size() == 1 ? " tensor" : " tensors") + " of the checkpoint that a "
                                              + config.modelType + " model does not use: " + list + "."));
    }
    return model;
}

const ModelInfo& Model::info() const { return d->info; }
const ModelConfig& Model::config() const { return d->config; }
std::shared_ptr<const Tokenizer> Model::tokenizer() const { return d->tokenizer; }
std::string Model::deviceName() const { return deviceText(d->transformer->device()); }
std::string Model::dtypeName() const { return dtypeText(d->transformer->dtype()); }

Encoding Model::encode(const std::string& text, BosPolicy bos, int64_t truncateTo,
                       const std::atomic<bool>* cancel) const
{
    if (!d->tokenizer)
        throw Error(ErrorCode::InvalidArgument,
                    "This model folder has no tokenizer.json, so it can only run explicit token ids.");
    if (text.empty())
        throw Error(ErrorCode::InvalidArgument, "The prompt is empty.");
    if (onlyWhitespace(text))
        throw Error(ErrorCode::InvalidArgument, "The prompt contains only whitespace.");
    // A prompt past the positions is refused; tokenizing it to the end (a 100 MB line reached
    // 9.7 GB) would only make the count in that message exact. Counting goes on to twice the limit.
    const int64_t positions = d->config.maxTokens;
    bool stopped = false;
    EncodeLimits lim;
    lim.stopAfter = truncateTo > 0 ? truncateTo : 2 * positions;
    lim.stoppedEarly = &stopped;
    lim.refuseBeyond = truncateTo <= 0;
    lim.cancel = cancel;
    Encoding enc = d->tokenizer->encode(text, bos, lim);
    if (truncateTo > 0) {
        if (int64_t(enc.tokens.size()) > truncateTo)
            enc.tokens.resize(size_t(truncateTo));
    } else if (stopped) {
        throw Error(ErrorCode::InvalidArgument,
                    "The prompt has more than " + std::to_string(2 * positions) + " tokens but the model handles at most "
                        + std::to_string(positions) + " positions; shorten it.");
    }
    if (enc.tokens.empty())
        throw Error(ErrorCode::InvalidArgument, "The prompt produced no tokens.");
    // tokenizer.json and config.json come from different places; an id past the embedding would
    // fail deep in the forward pass ("index out of range in self").
    for (size_t i = 0; i < enc.tokens.size(); ++i) {
        const Token& t = enc.tokens[i];
        if (t.id < 0 || t.id >= d->config.vocabSize)
            throw Error(ErrorCode::InvalidArgument,
                        "The tokenizer gives token " + std::to_string(i) + " ('" + t.piece + "') the id "
                            + std::to_string(t.id) + ", but the model's vocabulary has only "
                            + std::to_string(d->config.vocabSize)
                            + " ids (vocab_size in config.json); tokenizer.json does not belong to this model.");
    }
    return enc;
}

std::shared_ptr<RunResult> Model::prepare(const RunRequest& request, detail::ForwardTargets& targets,
                                          const std::atomic<bool>* cancel) const
{
    std::shared_ptr<RunResult> result = describe(request, cancel);
    preflightRun(d->config, result->tokens, request, d->transformer->device());
    allocate(request, *result, targets);
    return result;
}

std::shared_ptr<RunResult> Model::describe(const RunRequest& request, const std::atomic<bool>* cancel) const
{
    auto result = std::make_shared<RunResult>();
    RunResult& r = *result;
    r.model = d->info;
    r.device = deviceName();
    r.dtype = dtypeName();
    ensureComputeThreads();
    r.threads = computeThreads();

    if (request.useIds) {
        if (request.ids.empty())
            throw Error(ErrorCode::InvalidArgument, "No token ids were given.");
        for (int32_t id : request.ids)
            if (id < 0 || id >= d->config.vocabSize)
                throw Error(ErrorCode::InvalidArgument, "Token id " + std::to_string(id)
                                                            + " is outside the vocabulary (0.."
                                                            + std::to_string(d->config.vocabSize - 1) + ").");
        // The embedding decides what runs: any id below vocab_size does, even where the
        // tokenizer's vocabulary has a hole (then the token is shown as "<id 5>").
        for (int32_t id : request.ids) {
            Token t;
            if (d->tokenizer && id < d->tokenizer->vocabSize()) {
                try {
                    t = d->tokenizer->fromIds({id}).tokens.front();
                } catch (const Error&) {
                    t = Token{};
                }
            }
            if (t.piece.empty() && t.display.empty()) {
                t.id = id;
                t.display = "<id " + std::to_string(id) + ">";
            }
            r.encoding.tokens.push_back(std::move(t));
        }
    } else {
        r.encoding = encode(request.text, request.bos, 0, cancel);
    }

    const int64_t T = int64_t(r.encoding.tokens.size());
    if (T > d->config.maxTokens)
        throw Error(ErrorCode::InvalidArgument,
                    "The prompt has " + std::to_string(T) + " tokens but the model handles at most "
                        + std::to_string(d->config.maxTokens) + " positions; shorten it.");
    r.tokens = T;

    validateInterventions(request.interventions, T, d->config);
    if (request.attentionBlockRows < 0)
        throw Error(ErrorCode::InvalidArgument, "The attention block must have at least one query row (or 0: automatic).");
    if (keepsAllMaps(d->config, T, request)) {
        // All maps are the one capture that grows with T^2: check it against free memory first.
        const int64_t L = d->config.numLayers, H = d->config.numHeads;
        const double mapBytes = double(L) * double(H) * double(T) * double(T) * 4.0;
        const double avail = availableHostBytes();
        if (avail > 0 && mapBytes > 0.8 * avail)
            throw Error(ErrorCode::OutOfMemory,
                        "Keeping every attention map needs " + gibText(mapBytes) + " (" + std::to_string(L) + " layers x "
                            + std::to_string(H) + " heads x " + std::to_string(T) + "^2 tokens x 4 bytes) but only "
                            + gibText(avail) + " of memory is free. Keep maps on demand (they are recomputed per head "
                            "from Q and K), use a shorter prompt, or free memory.");
    }
    return result;
}

void Model::allocate(const RunRequest& request, RunResult& r, detail::ForwardTargets& targets) const
{
    const int64_t T = r.tokens;
    const int64_t L = d->config.numLayers, H = d->config.numHeads, Hkv = d->config.numKvHeads;
    const int64_t V = d->config.vocabSize, D = d->config.hiddenSize, hd = d->config.headDim;
    const double mapBytes = double(L) * double(H) * double(T) * double(T) * 4.0;
    targets = ForwardTargets();
    try {
        auto alloc = [](Tensor& t, std::vector<int64_t> shape) {
            int64_t n = 1;
            for (int64_t s : shape)
                n *= s;
            t.shape = std::move(shape);
            t.data.assign(size_t(n), 0.0f);
            return t.data.data();
        };
        if (keepsAllMaps(d->config, T, request)) {
            r.attention.assign(size_t(L * H * T * T), 0.0f);
            targets.attention = r.attention.data();
        }
        if (request.captureLogits && d->transformer->hasLogits()) { // bare encoders have no output head
            r.logits.assign(size_t(T * V), 0.0f);
            targets.logits = r.logits.data();
        }
        if (request.captureHidden)
            targets.hidden = alloc(r.hidden, {L + 1, T, D});
        if (request.captureQK) {
            targets.queries = alloc(r.queries, {L, H, T, hd});
            targets.keys = alloc(r.keys, {L, Hkv, T, hd});
        }
        if (request.captureValues)
            targets.values = alloc(r.values, {L, Hkv, T, hd});
        if (request.captureHeadOutputs)
            targets.headOutputs = alloc(r.headOutputs, {L, H, T, hd});
        r.firstTokenMass = RowMatrixXf::Zero(L, H);
        if (request.computeSummaries) {
            targets.firstTokenMass = r.firstTokenMass.data();
            targets.firstMassPerQuery = alloc(r.firstMassPerQuery, {L, H, T});
            targets.received = alloc(r.received, {L, H, T});
            targets.entropy = alloc(r.entropy, {L, H, T});
            targets.valueNorms = alloc(r.valueNorms, {L, Hkv, T});
            targets.contributionNorms = alloc(r.contributionNorms, {L, H, T});
            targets.writtenNorms = alloc(r.writtenNorms, {L, H, T});
        }
        targets.recipes = &r.recipes;
        targets.blockRows = request.attentionBlockRows;
        r.maskBias = request.interventions.maskBias;
    } catch (const std::bad_alloc&) {
        throw Error(ErrorCode::OutOfMemory,
                    "Not enough host memory for the captures of this run (all maps alone: " + gibText(mapBytes)
                        + "). Use a shorter prompt or keep maps on demand.");
    }
}

std::shared_ptr<RunResult> Model::run(const RunRequest& request, const Progress& progress,
                                      const std::atomic<bool>* cancel) const
{
    ForwardTargets targets;
    std::shared_ptr<RunResult> result = prepare(request, targets, cancel);
    bool lastOutputNonFinite = false;
    targets.lastOutputNonFinite = &lastOutputNonFinite;
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int32_t> ids = result->encoding.ids();
    translateTorchErrors("running the model", [&] {
        c10::InferenceMode guard;
        d->transformer->forward(ids, request.interventions, targets, progress, cancel);
    });
    result->runMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    refuseNonFinite(*result, lastOutputNonFinite);
    return result;
}

std::vector<std::shared_ptr<RunResult>> Model::runBatch(const std::vector<RunRequest>& requests, int batchSize,
                                                        const Progress& progress, const std::atomic<bool>* cancel) const
{
    if (batchSize < 1)
        throw Error(ErrorCode::InvalidArgument, "The batch size must be at least 1, not " + std::to_string(batchSize) + ".");
    std::vector<std::shared_ptr<RunResult>> results(requests.size());
    std::vector<ForwardTargets> targets(requests.size());
    const std::unique_ptr<bool[]> lastOutputNonFinite(new bool[requests.size()]()); // vector<bool> has no bool*
    for (size_t i = 0; i < requests.size(); ++i)
        results[i] = describe(requests[i], cancel);
    // The batches: consecutive requests of one length, none with interventions (they run alone),
    // at most batchSize of them.
    std::vector<std::pair<size_t, size_t>> batches;
    for (size_t begin = 0; begin < requests.size();) {
        size_t end = begin + 1;
        if (!requests[begin].interventions.any())
            while (end < requests.size() && end - begin < size_t(batchSize) && !requests[end].interventions.any()
                   && results[end]->tokens == results[begin]->tokens)
                ++end;
        batches.push_back({begin, end});
        begin = end;
    }
    // Pre-flight the whole call, not each request alone: every request's captures are held
    // together, and the largest [B, T] pass's working set comes on top of them.
    RunMemoryEstimate whole;
    whole.requests = requests.size();
    int64_t widestT = 0;
    for (size_t i = 0; i < requests.size(); ++i)
        whole.captures += estimateRun(d->config, results[i]->tokens, requests[i]).captures;
    for (const auto& [begin, end] : batches) {
        const RunMemoryEstimate e = estimateRun(d->config, results[begin]->tokens, requests[begin], int64_t(end - begin));
        if (e.attention + e.mlp > whole.attention + whole.mlp) {
            whole.attention = e.attention;
            whole.mlp = e.mlp;
            whole.batch = int64_t(end - begin);
            widestT = results[begin]->tokens;
        }
    }
    if (!requests.empty())
        preflightEstimate(whole, widestT, d->transformer->device());
    for (size_t i = 0; i < requests.size(); ++i) {
        allocate(requests[i], *results[i], targets[i]);
        targets[i].lastOutputNonFinite = &lastOutputNonFinite[i];
    }
    for (const auto& batch : batches) {
        const size_t begin = batch.first, end = batch.second; // C++17 lambdas cannot capture bindings
        std::vector<std::vector<int32_t>> ids;
        std::vector<ForwardTargets> chunk(targets.begin() + long(begin), targets.begin() + long(end));
        for (size_t i = begin; i < end; ++i)
            ids.push_back(results[i]->encoding.ids());
        const auto t0 = std::chrono::steady_clock::now();
        translateTorchErrors("running the model", [&] {
            c10::InferenceMode guard;
            d->transformer->forwardBatch(ids, requests[begin].interventions, chunk, progress, cancel);
        });
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        for (size_t i = begin; i < end; ++i) {
            results[i]->runMs = ms / double(end - begin);
            refuseNonFinite(*results[i], lastOutputNonFinite[i]);
        }
    }
    return results;
}

} // namespace sinkscope
