// SPDX-License-Identifier: GPL-3.0-or-later
// Results of a prompt set: Sink_k^epsilon, the per-layer sink curve, the top waiver heads and the
// massive activations, each the mean over the prompts of one length T (std and count beside), the
// per-prompt values, the lines that could not be used, and "Save metrics…" (metrics.json + CSV).
#pragma once

#include "promptsetrunner.h"

#include <QDialog>

#include <memory>

class QComboBox;
class QLabel;
class QListWidget;
class QTableWidget;

class PromptSetDialog : public QDialog {
    Q_OBJECT

public:
    explicit PromptSetDialog(QWidget* parent = nullptr);

    void setResult(std::shared_ptr<const PromptSetResult> result);
    std::shared_ptr<const PromptSetResult> result() const { return m_result; }

    /// Shows the group of prompts of length T (one of result()->groups); false when there is none.
    bool showLength(int64_t tokens);
    int64_t shownLength() const { return m_shownT; }

    QString sinkRateText() const;
    QTableWidget* sinkCurveTable() const { return m_curve; }
    QTableWidget* waiverTable() const { return m_waiver; }
    QTableWidget* massiveTable() const { return m_massive; }
    QTableWidget* perPromptTable() const { return m_perPrompt; }
    QListWidget* issueList() const { return m_issues; }

    /// Writes metrics.json and the CSV tables into `dir`, all or nothing. On failure returns false
    /// with the reason in `error`.
    bool saveTo(const QString& dir, QString* error = nullptr);

    /// Asks for the settings of a prompt set (truncation length T, epsilon, k; only T when
    /// `metricOptions` is false, as for a classification). False when cancelled.
    static bool askSettings(QWidget* parent, PromptSetRunner::Settings* settings, bool metricOptions = true);

private:
    void fill();
    void saveDialog();

    std::shared_ptr<const PromptSetResult> m_result;
    int64_t m_shownT = 0;
    QLabel* m_summary = nullptr;
    QLabel* m_sinkRate = nullptr;
    QComboBox* m_length = nullptr;
    QTableWidget* m_curve = nullptr;
    QTableWidget* m_waiver = nullptr;
    QTableWidget* m_massive = nullptr;
    QTableWidget* m_perPrompt = nullptr;
    QListWidget* m_issues = nullptr;
};
