// SPDX-License-Identifier: GPL-3.0-or-later
#include "sinkscope/runio.h"

#include "sinkscope/error.h"
#include "sinkscope/fileio.h"
#include "sinkscope/npy.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace sinkscope {

namespace {

} // namespace

std::string runJsonText(const RunResult& r)
{
    QJsonObject model;
    model["model_type"] = QString::fromStdString(r.model.modelType);
    model["layers"] = r.model.layers;
    model["heads"] = r.model.heads;
    model["kv_heads"] = r.model.kvHeads;
    model["head_dim"] = r.model.headDim;
    model["hidden_size"] = r.model.hiddenSize;
    model["vocab_size"] = r.model.vocabSize;
    model["position"] = QString::fromStdString(r.model.position);
    model["attention"] = QString::fromStdString(r.model.attention);
    model["name"] = QString::fromStdString(r.model.name);
    model["synthetic"] = r.model.synthetic;

    QJsonArray tokens;
    for (const Token& t : r.encoding.tokens) {
        QJsonObject o;
        o["id"] = t.id;
        o["text"] = QString::fromStdString(t.display);
        o["piece"] = QString::fromStdString(t.piece);
        o["start"] = qint64(t.start);
        o["end"] = qint64(t.end);
        o["special"] = t.special;
        tokens.append(o);
    }

    QJsonArray mass;
    for (Eigen::Index l = 0; l < r.firstTokenMass.rows(); ++l) {
        QJsonArray row;
        for (Eigen::Index h = 0; h < r.firstTokenMass.cols(); ++h)
            row.append(double(r.firstTokenMass(l, h)));
        mass.append(row);
    }

    QJsonObject root;
    root["model"] = model;
    root["device"] = QString::fromStdString(r.device);
    root["dtype"] = QString::fromStdString(r.dtype);
    root["threads"] = r.threads;
    root["bos_added"] = r.encoding.bosAdded;
    root["tokens"] = tokens;
    root["first_token_mass"] = mass;
    root["run_ms"] = r.runMs;
    return QJsonDocument(root).toJson(QJsonDocument::Indented).toStdString();
}

std::vector<SaveItem> parseSaveList(const std::string& text)
{
    std::vector<SaveItem> items;
    for (const QString& part : QString::fromStdString(text).split(',', Qt::SkipEmptyParts)) {
        const QString p = part.trimmed();
        SaveItem item;
        if (p == "attention")
            item = SaveItem::Attention;
        else if (p == "logits")
            item = SaveItem::Logits;
        else if (p == "hidden")
            item = SaveItem::Hidden;
        else if (p == "values")
            item = SaveItem::Values;
        else if (p == "qk")
            item = SaveItem::QK;
        else
            throw Error(ErrorCode::InvalidArgument,
                        "--save accepts attention, logits, hidden, values and qk, not '" + p.toStdString() + "'.");
        if (std::find(items.begin(), items.end(), item) == items.end())
            items.push_back(item);
    }
    return items;
}

void saveRun(const RunResult& r, const std::string& outDirPath, const std::vector<SaveItem>& items,
             ExistingOutput existing)
{
    // Stage everything first so that a failure half-way leaves the output folder as it was.
    StagedFolder folder(outDirPath, existing);
    auto stage = [&](const QString& name) { return folder.path(name.toStdString()); };

    folder.write("run.json", runJsonText(r));
    const int64_t T = r.tokens;
    const int64_t L = r.model.layers, H = r.model.heads;
    auto need = [](const Tensor& t, const char* what) {
        if (t.empty())
            throw Error(ErrorCode::InvalidArgument, std::string("This run did not capture ") + what + ".");
    };
    for (SaveItem item : items) {
        if (item == SaveItem::Attention) {
            if (r.hasAttention()) {
                writeNpy(stage(QStringLiteral("attention.npy")), r.attention.data(), {L, H, T, T});
            } else {
                if (!r.canMakeMaps())
                    throw Error(ErrorCode::InvalidArgument, "This run kept neither the attention maps nor Q and K.");
                std::vector<float> all(size_t(L * H * T * T));
                for (int l = 0; l < L; ++l)
                    for (int h = 0; h < H; ++h) {
                        const RowMatrixXf m = r.attentionMap(l, h);
                        std::copy(m.data(), m.data() + T * T, all.begin() + (l * H + h) * T * T);
                    }
                writeNpy(stage(QStringLiteral("attention.npy")), all.data(), {L, H, T, T});
            }
        } else if (item == SaveItem::Hidden) {
            need(r.hidden, "hidden states");
            writeNpy(stage(QStringLiteral("hidden.npy")), r.hidden.data.data(), r.hidden.shape);
        } else if (item == SaveItem::Values) {
            need(r.values, "value vectors");
            writeNpy(stage(QStringLiteral("values.npy")), r.values.data.data(), r.values.shape);
        } else if (item == SaveItem::QK) {
            need(r.queries, "queries and keys");
            const int64_t hd = r.queries.size(3), group = H / std::max(1, r.model.kvHeads);
            std::vector<float> qk(size_t(2 * L * H * T * hd));
            std::copy(r.queries.data.begin(), r.queries.data.end(), qk.begin());
            float* k = qk.data() + L * H * T * hd;
            for (int l = 0; l < L; ++l)
                for (int h = 0; h < H; ++h) {
                    const float* src = r.keys.at({l, h / group});
                    std::copy(src, src + T * hd, k + (l * H + h) * T * hd);
                }
            writeNpy(stage(QStringLiteral("qk.npy")), qk.data(), {2, L, H, T, hd});
        } else if (item == SaveItem::Logits) {
            if (r.logits.empty())
                throw Error(ErrorCode::InvalidArgument, "This run did not capture logits.");
            writeNpy(stage(QStringLiteral("logits.npy")), r.logits.data(), {T, int64_t(r.model.vocabSize)});
        }
    }
    folder.publish();
}

} // namespace sinkscope
