// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkscope/model.h"

#include "sinkscope/checkpoint.h"
#include "sinkscope/error.h"
#include "torch/familyspec.h"
#include "torch/torchutil.h"
#include "torch/transformer.h"

#include <c10/core/InferenceMode.h>

#include <chrono>
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
    info.maxPositions = config.maxPositionEmbeddings;
    info.position = "rope";
    info.attention = spec->causal ? "causal" : "bidirectional";
    return model;
}

const ModelInfo& Model::info() const { return d->info; }
const ModelConfig& Model::config() const { return d->config; }
std::shared_ptr<const Tokenizer> Model::tokenizer() const { return d->tokenizer; }
std::string Model::deviceName() const { return deviceText(d->transformer->device()); }
std::string Model::dtypeName() const { return dtypeText(d->transformer->dtype()); }

std::shared_ptr<RunResult> Model::run(const RunRequest& request, const Progress& progress,
                                      const std::atomic<bool>* cancel) const
{
    auto result = std::make_shared<RunResult>();
    RunResult& r = *result;
    r.model = d->info;
    r.device = deviceName();
    r.dtype = dtypeName();

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
    if (T > d->config.maxPositionEmbeddings)
        throw Error(ErrorCode::InvalidArgument,
                    "The prompt has " + std::to_string(T) + " tokens but the model handles at most "
                        + std::to_string(d->config.maxPositionEmbeddings) + " positions; shorten it.");
    r.tokens = T;

    const int64_t L = d->config.numLayers, H = d->config.numHeads, V = d->config.vocabSize;
    const double mapBytes = double(L) * double(H) * double(T) * double(T) * 4.0;
    try {
        if (request.captureAttention)
            r.attention.assign(size_t(L * H * T * T), 0.0f);
        if (request.captureLogits)
            r.logits.assign(size_t(T * V), 0.0f);
        r.firstTokenMass = RowMatrixXf::Zero(L, H);
    } catch (const std::bad_alloc&) {
        throw Error(ErrorCode::OutOfMemory,
                    "Not enough host memory for the captured attention maps (" + gib(mapBytes)
                        + " for all layers and heads at " + std::to_string(T)
                        + " tokens). Use a shorter prompt or do not capture every map.");
    }

    ForwardTargets targets;
    targets.attention = request.captureAttention ? r.attention.data() : nullptr;
    targets.logits = request.captureLogits ? r.logits.data() : nullptr;
    targets.firstTokenMass = r.firstTokenMass.data();

    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int32_t> ids = r.encoding.ids();
    translateTorchErrors("running the model", [&] {
        c10::InferenceMode guard;
        d->transformer->forward(ids, targets, progress, cancel);
    });
    r.runMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return result;
}

} // namespace sinkscope
