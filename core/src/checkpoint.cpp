// SPDX-License-Identifier: GPL-3.0-or-later
// Finding the files of a Hugging Face model folder and opening its safetensors weights, single or
// sharded. Pickle weights are refused by design: loading them would run code from the file.
#include "sinkscope/checkpoint.h"

#include "json.h"
#include "sinkscope/error.h"
#include "sinkscope/fileio.h"

#include <QDir>
#include <QFileInfo>
#include <QProcessEnvironment>

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace sinkscope {

namespace {

const char* const kIndexName = "model.safetensors.index.json";

std::string inQuotes(const std::string& s)
{
    return "'" + s + "'";
}

std::string joined(const std::vector<std::string>& items)
{
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i)
        out += (i ? ", " : "") + items[i];
    return out;
}

std::string filePath(const QDir& dir, const QString& name)
{
    return (QDir::cleanPath(dir.absoluteFilePath(name))).toStdString();
}

// The weight_map of a sharded index: tensor name -> shard file name (relative to the folder).
std::map<std::string, std::string> readWeightMap(const std::string& indexPath)
{
    const std::string shown = (QFileInfo(QString::fromStdString(indexPath)).fileName()).toStdString();
    const json::Document doc = json::parseObject(readFile(indexPath, files::kIndex), shown);
    const json::Value wm = doc.root().find("weight_map");
    if (!wm.isObject())
        throw Error(ErrorCode::Format, shown + " has no \"weight_map\" object mapping tensor names to shard files.",
                    indexPath);
    std::map<std::string, std::string> out;
    for (const auto& [key, value] : wm.uniqueMembers()) {
        const std::string name(key);
        if (!value.isString()) {
            throw Error(ErrorCode::Format,
                        shown + " maps tensor " + inQuotes(name) + " to " + value.kindName() +
                            " instead of a shard file name.",
                        indexPath);
        }
        const std::string file = value.str();
        // Shards live beside the index; a name with a path in it would reach outside the folder.
        if (file.empty() || file.find('/') != std::string::npos || file.find('\\') != std::string::npos
            || file == "." || file == "..") {
            throw Error(ErrorCode::Format,
                        shown + " maps tensor " + inQuotes(name) + " to " + inQuotes(file) +
                            ", which is not a file name in the model folder.",
                        indexPath);
        }
        out.emplace(name, file);
    }
    if (out.empty())
        throw Error(ErrorCode::Format, shown + " has an empty \"weight_map\".", indexPath);
    return out;
}

// Hugging Face cache entries (models--org--name) keep the files under snapshots/<revision>.
QDir resolveCacheEntry(const QDir& dir)
{
    if (QFileInfo(dir.filePath(QStringLiteral("config.json"))).exists())
        return dir;
    const QDir snapshots(dir.filePath(QStringLiteral("snapshots")));
    if (!snapshots.exists())
        return dir;
    const std::string ref = (dir.filePath(QStringLiteral("refs/main"))).toStdString();
    if (pathExists(ref)) {
        // Through the checked open: a refs/main that is a FIFO or a device is an error, not a hang.
        const QString revision = QString::fromStdString(readFile(ref, files::kRef)).trimmed();
        if (!revision.isEmpty() && !revision.contains(QLatin1Char('/')) && snapshots.exists(revision))
            return QDir(snapshots.filePath(revision));
    }
    const QStringList revisions = snapshots.entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    if (revisions.size() == 1)
        return QDir(snapshots.filePath(revisions.front()));
    return dir;
}

// "models--org--name" -> "org/name" (the cache replaces '/' by "--"); "" for any other name.
QString repoFromEntryName(const QString& entry)
{
    if (!entry.startsWith(QLatin1String("models--")) || entry.size() <= 8)
        return {};
    return entry.mid(8).replace(QLatin1String("--"), QLatin1String("/"));
}

} // namespace

std::string huggingFaceCacheDir()
{
    const QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    if (env.contains(QStringLiteral("HF_HUB_CACHE")))
        return (env.value(QStringLiteral("HF_HUB_CACHE"))).toStdString();
    if (env.contains(QStringLiteral("HF_HOME")))
        return (QDir(env.value(QStringLiteral("HF_HOME"))).filePath(QStringLiteral("hub"))).toStdString();
    return (QDir::home().filePath(QStringLiteral(".cache/huggingface/hub"))).toStdString();
}

std::vector<CachedModel> findCachedModels(const std::string& cacheDir)
{
    std::vector<CachedModel> out;
    const QDir cache(QString::fromStdString(cacheDir));
    for (const QFileInfo& entry : cache.entryInfoList({QStringLiteral("models--*")}, QDir::Dirs | QDir::NoDotAndDotDot)) {
        const std::string repo = (repoFromEntryName(entry.fileName())).toStdString();
        const QFileInfoList snaps = QDir(entry.filePath() + QStringLiteral("/snapshots"))
                                        .entryInfoList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Time);
        for (const QFileInfo& snap : snaps) {
            if (QFileInfo::exists(QDir(snap.filePath()).filePath(QStringLiteral("config.json"))))
                out.push_back({repo, (snap.fileName()).toStdString(), (snap.filePath()).toStdString()});
        }
    }
    std::stable_sort(out.begin(), out.end(), [](const CachedModel& a, const CachedModel& b) { return a.repo < b.repo; });
    return out;
}

std::string cachedRepoName(const std::string& dirPath)
{
    const QDir dir(QDir::cleanPath(QFileInfo(QString::fromStdString(dirPath)).absoluteFilePath()));
    QString repo = repoFromEntryName(dir.dirName());
    if (repo.isEmpty()) { // a snapshot: models--org--name/snapshots/REV
        QDir up = dir;
        if (up.cdUp() && up.dirName() == QLatin1String("snapshots") && up.cdUp())
            repo = repoFromEntryName(up.dirName());
    }
    return (repo).toStdString();
}

ModelDirectory ModelDirectory::locate(const std::string& dirPath)
{
    const QFileInfo dirInfo(QString::fromStdString(dirPath));
    struct stat st {};
    if (!dirPath.empty() && ::stat(dirPath.c_str(), &st) == 0 && S_ISREG(st.st_mode))
        throw Error(ErrorCode::Io, dirPath + " is not a folder; open the folder that holds config.json.", dirPath);
    checkFolder(dirPath, "model folder");
    const QDir dir = resolveCacheEntry(QDir(dirInfo.absoluteFilePath()));

    ModelDirectory out;
    out.dir = (QDir::cleanPath(dir.absolutePath())).toStdString();
    out.name = cachedRepoName(out.dir);
    if (out.name.empty()) // the folder the user named, not a snapshot it resolved to
        out.name = (QDir(QDir::cleanPath(dirInfo.absoluteFilePath())).dirName()).toStdString();
    // Present files go through the checked open's type test, so a config.json that is a FIFO, a
    // folder or a symbolic link loop is named as such instead of being reported missing.
    const std::string config = filePath(dir, QStringLiteral("config.json"));
    if (!pathExists(config)) {
        throw Error(ErrorCode::Io,
                    "The model folder " + out.dir + " has no config.json; a Hugging Face model folder needs one.",
                    out.dir);
    }
    checkRegularFile(config, files::kConfig);
    out.configPath = config;
    const std::string tokenizer = filePath(dir, QStringLiteral("tokenizer.json"));
    if (pathExists(tokenizer)) {
        checkRegularFile(tokenizer, files::kTokenizer);
        out.tokenizerPath = tokenizer;
    }
    const std::string tokenizerConfig = filePath(dir, QStringLiteral("tokenizer_config.json"));
    if (pathExists(tokenizerConfig)) {
        checkRegularFile(tokenizerConfig, files::kTokenizerConfig);
        out.tokenizerConfigPath = tokenizerConfig;
    }

    const QString index = dir.filePath(QLatin1String(kIndexName));
    if (pathExists(index.toStdString())) {
        out.indexPath = filePath(dir, QLatin1String(kIndexName));
        std::set<std::string> shards;
        for (const auto& [tensor, file] : readWeightMap(out.indexPath))
            shards.insert(file);
        std::vector<std::string> missing;
        for (const std::string& file : shards) {
            const QString path = dir.filePath(QString::fromStdString(file));
            if (pathExists(path.toStdString())) // a shard that is not a regular file is named when opened
                out.weightFiles.push_back(filePath(dir, QString::fromStdString(file)));
            else
                missing.push_back(file);
        }
        if (!missing.empty()) {
            throw Error(ErrorCode::Io,
                        std::string(kIndexName) + " in " + out.dir + " names " + std::to_string(missing.size()) +
                            (missing.size() == 1 ? " shard file that is" : " shard files that are") +
                            " missing: " + joined(missing) + ". The download may be incomplete.",
                        out.dir);
        }
        return out;
    }

    if (pathExists(filePath(dir, QStringLiteral("model.safetensors")))) {
        out.weightFiles.push_back(filePath(dir, QStringLiteral("model.safetensors")));
        return out;
    }
    const QStringList safetensors =
        dir.entryList({QStringLiteral("*.safetensors")}, QDir::Files | QDir::Readable, QDir::Name);
    for (const QString& f : safetensors)
        out.weightFiles.push_back(filePath(dir, f));
    if (!out.weightFiles.empty())
        return out;

    const QStringList pickles =
        dir.entryList({QStringLiteral("*.bin"), QStringLiteral("*.pt"), QStringLiteral("*.pth"), QStringLiteral("*.ckpt")},
                      QDir::Files, QDir::Name);
    if (!pickles.isEmpty()) {
        std::vector<std::string> names;
        for (const QString& p : pickles)
            names.push_back((p).toStdString());
        throw Error(ErrorCode::Unsupported,
                    "The model folder " + out.dir + " has its weights only as PyTorch pickle files (" + joined(names) +
                        "). SinkScope never loads pickle checkpoints, because unpickling can execute code hidden in "
                        "the file. Convert the weights to safetensors (in Python: "
                        "model.save_pretrained(folder, safe_serialization=True)) and open the converted folder.",
                    out.dir);
    }
    throw Error(ErrorCode::Io, "The model folder " + out.dir + " has no weights: no *.safetensors file was found.",
                out.dir);
}

struct Checkpoint::Impl {
    ModelDirectory dir;
    std::vector<SafetensorsFile> files;
    // Tensor name -> index into `files`.
    std::unordered_map<std::string, std::size_t> owner;
    // Names handed out by read(), so a loader can tell which tensors it ignored.
    mutable std::unordered_set<std::string> read;
};

Checkpoint::Checkpoint(std::unique_ptr<Impl> impl) : d(std::move(impl)) {}
Checkpoint::Checkpoint(Checkpoint&&) noexcept = default;
Checkpoint& Checkpoint::operator=(Checkpoint&&) noexcept = default;
Checkpoint::~Checkpoint() = default;

Checkpoint Checkpoint::open(const ModelDirectory& dir)
{
    auto impl = std::make_unique<Impl>();
    impl->dir = dir;
    if (dir.weightFiles.empty())
        throw Error(ErrorCode::Io, "The model folder " + dir.dir + " has no weight files.", dir.dir);
    std::map<std::string, std::size_t> fileIndex;
    for (const std::string& path : dir.weightFiles) {
        impl->files.push_back(SafetensorsFile::open(path));
        const std::size_t fi = impl->files.size() - 1;
        const std::string shown = (QFileInfo(QString::fromStdString(path)).fileName()).toStdString();
        fileIndex[shown] = fi;
        for (const TensorInfo& t : impl->files.back().header().tensors) {
            const auto [it, inserted] = impl->owner.emplace(t.name, fi);
            if (!inserted) {
                const std::string other =
                    (QFileInfo(QString::fromStdString(impl->files[it->second].path())).fileName()).toStdString();
                throw Error(ErrorCode::Format,
                            "Tensor " + inQuotes(t.name) + " appears in two weight files, " + other + " and " + shown +
                                "; the checkpoint is ambiguous.",
                            t.name);
            }
        }
    }
    if (!dir.indexPath.empty()) {
        for (const auto& [tensor, file] : readWeightMap(dir.indexPath)) {
            const auto fit = fileIndex.find(file);
            const auto oit = impl->owner.find(tensor);
            if (fit == fileIndex.end() || oit == impl->owner.end() || oit->second != fit->second) {
                throw Error(ErrorCode::Format,
                            std::string(kIndexName) + " places tensor " + inQuotes(tensor) + " in shard " + file +
                                ", but that shard does not contain it.",
                            tensor);
            }
        }
    }
    return Checkpoint(std::move(impl));
}

bool Checkpoint::contains(const std::string& name) const
{
    return d->owner.count(name) != 0;
}

const TensorInfo* Checkpoint::find(const std::string& name) const
{
    const auto it = d->owner.find(name);
    return it == d->owner.end() ? nullptr : d->files[it->second].find(name);
}

std::vector<std::string> Checkpoint::names() const
{
    std::vector<std::string> out;
    out.reserve(d->owner.size());
    for (const auto& [name, file] : d->owner)
        out.push_back(name);
    std::sort(out.begin(), out.end());
    return out;
}

HostTensor Checkpoint::read(const std::string& name) const
{
    const auto it = d->owner.find(name);
    if (it == d->owner.end()) {
        throw Error(ErrorCode::Format, "The checkpoint in " + d->dir.dir + " is missing tensor " + inQuotes(name) + ".",
                    name);
    }
    HostTensor t = d->files[it->second].read(name);
    d->read.insert(name);
    return t;
}

std::vector<std::string> Checkpoint::unreadNames() const
{
    std::vector<std::string> out;
    for (const auto& [name, file] : d->owner)
        if (!d->read.count(name))
            out.push_back(name);
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace sinkscope
