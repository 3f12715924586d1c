// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkscope/model.h"

#include "sinkscope/checkpoint.h"
#include "sinkscope/demomodels.h"
#include "sinkscope/error.h"
#include "familyspec.h"
#include "sinkscope/threads.h"
#include "torch/torchutil.h"
#include "torch/transformer.h"

#include <c10/core/InferenceMode.h>

#include <chrono>
#include <mutex>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <cstdio>
#include <new>

namespace sinkscope {

using namespace detail;

namespace {

std::string folderName(const std::string& dir)
{
    std::string d = dir;
    while (d.size() > 1 && d.back() == '/')
        d.pop_back();
    const auto slash = d.find_last_of('/');
    return slash == std::string::npos ? d : d.substr(slash + 1);
}

bool onlyWhitespace(const std::string& s)
{
    for (unsigned char c : s)
        if (!(c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'))
            return false;
    return true;
}

std::string gib(double bytes)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
    return buf;
}

/// MemAvailable from /proc/meminfo in bytes, or 0 when unknown.
double availableHostBytes()
{
    std::FILE* f = std::fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[256];
    double kb = 0;
    while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "MemAvailable: %lf kB", &kb) == 1)
            break;
    std::fclose(f);
    return kb * 1024.0;
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
    translateTorchErrors("loading the weights", [&] {
        c10::InferenceMode guard;
        const at::Device device = chooseDevice(devicePref);
        const at::ScalarType dtype = chooseDtype(dtypePref, device, config.torchDtype);
        m.transformer = std::make_unique<Transformer>(config, *spec, ckpt, device, dtype);
    });

    m.config = config;
    ModelInfo& info = m.info;
    info.name = folderName(dir);
    info.dir = dir;
    info.modelType = config.modelType;
    info.layers = config.numLayers;
    info.heads = config.numHeads;
    info.kvHeads = config.numKvHeads;
    info.headDim = config.headDim;
    info.hiddenSize = config.hiddenSize;
    info.vocabSize = config.vocabSize;
    info.maxPositions = config.maxTokens;
    info.position = positionKindName(config.position);
    info.attention = config.causal ? "causal" : "bidirectional";
    info.synthetic = isSyntheticDemoModel(dir);
    // Tensors the family does not read (rotary caches, heads for other tasks, parts of another
    // architecture) are skipped; say which, so a surprising checkpoint does not pass unnoticed.
    const std::vector<std::string> unused = ckpt.unreadNames();
    if (!unused.empty()) {
        std::string list;
        for (size_t i = 0; i < unused.size() && i < 5; ++i)
            list += (i ? ", " : "") + unused[i];
        if (unused.size() > 5)
            list += ", ... (" + std::to_string(unused.size()) + " in all)";
        info.notes.push_back("Ignored " + std::to_string(unused.size()) + (unused.size() == 1 ? " tensor" : " tensors")
                             + " of the checkpoint that a " + config.modelType + " model does not use: " + list + ".");
    }
    return model;
}

const ModelInfo& Model::info() const { return d->info; }
const ModelConfig& Model::config() const { return d->config; }
std::shared_ptr<const Tokenizer> Model::tokenizer() const { return d->tokenizer; }
std::string Model::deviceName() const { return deviceText(d->transformer->device()); }
std::string Model::dtypeName() const { return dtypeText(d->transformer->dtype()); }

std::shared_ptr<RunResult> Model::prepare(const RunRequest& request, detail::ForwardTargets& targets) const
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
        if (d->tokenizer) {
            r.encoding = d->tokenizer->fromIds(request.ids);
        } else {
            for (int32_t id : request.ids) {
                Token t;
                t.id = id;
                t.piece = t.display = "#" + std::to_string(id);
                r.encoding.tokens.push_back(t);
            }
        }
    } else {
        if (!d->tokenizer)
            throw Error(ErrorCode::InvalidArgument,
                        "This model folder has no tokenizer.json, so it can only run explicit token ids.");
        if (request.text.empty())
            throw Error(ErrorCode::InvalidArgument, "The prompt is empty.");
        if (onlyWhitespace(request.text))
            throw Error(ErrorCode::InvalidArgument, "The prompt contains only whitespace.");
        r.encoding = d->tokenizer->encode(request.text, request.bos);
        if (r.encoding.tokens.empty())
            throw Error(ErrorCode::InvalidArgument, "The prompt produced no tokens.");
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

    const int64_t L = d->config.numLayers, H = d->config.numHeads, Hkv = d->config.numKvHeads;
    const int64_t V = d->config.vocabSize, D = d->config.hiddenSize, hd = d->config.headDim;
    const double mapBytes = double(L) * double(H) * double(T) * double(T) * 4.0;
    if (request.captureAttention) {
        // All maps are the one capture that grows with T^2: check it against free memory first.
        const double avail = availableHostBytes();
        if (avail > 0 && mapBytes > 0.8 * avail)
            throw Error(ErrorCode::OutOfMemory,
                        "Keeping every attention map needs " + gib(mapBytes) + " (" + std::to_string(L) + " layers x "
                            + std::to_string(H) + " heads x " + std::to_string(T) + "^2 tokens x 4 bytes) but only "
                            + gib(avail) + " of memory is free. Keep maps on demand (they are recomputed per head "
                            "from Q and K), use a shorter prompt, or free memory.");
    }
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
        if (request.captureAttention) {
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
                    "Not enough host memory for the captures of this run (all maps alone: " + gib(mapBytes)
                        + "). Use a shorter prompt or keep maps on demand.");
    }

    return result;
}

std::shared_ptr<RunResult> Model::run(const RunRequest& request, const Progress& progress,
                                      const std::atomic<bool>* cancel) const
{
    ForwardTargets targets;
    std::shared_ptr<RunResult> result = prepare(request, targets);
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int32_t> ids = result->encoding.ids();
    translateTorchErrors("running the model", [&] {
        c10::InferenceMode guard;
        d->transformer->forward(ids, request.interventions, targets, progress, cancel);
    });
    result->runMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return result;
}

std::vector<std::shared_ptr<RunResult>> Model::runBatch(const std::vector<RunRequest>& requests, int batchSize,
                                                        const Progress& progress, const std::atomic<bool>* cancel) const
{
    if (batchSize < 1)
        throw Error(ErrorCode::InvalidArgument, "The batch size must be at least 1, not " + std::to_string(batchSize) + ".");
    std::vector<std::shared_ptr<RunResult>> results(requests.size());
    std::vector<ForwardTargets> targets(requests.size());
    for (size_t i = 0; i < requests.size(); ++i)
        results[i] = prepare(requests[i], targets[i]);
    for (size_t begin = 0; begin < requests.size();) {
        // A batch: consecutive requests of one length, none with interventions (they run alone),
        // at most batchSize of them.
        size_t end = begin + 1;
        if (!requests[begin].interventions.any())
            while (end < requests.size() && end - begin < size_t(batchSize) && !requests[end].interventions.any()
                   && results[end]->tokens == results[begin]->tokens)
                ++end;
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
        for (size_t i = begin; i < end; ++i)
            results[i]->runMs = ms / double(end - begin);
        begin = end;
    }
    return results;
}

} // namespace sinkscope
