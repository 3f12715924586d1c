// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "sinkscope/classify.h"
#include "viewregistry.h"

#include <QImage>
#include <QPointer>
#include <QWidget>

#include <memory>

class QLabel;
class QProgressBar;
class QPushButton;
class QTableWidget;

namespace sinkscope {

class BinnedHeadMap;
class JobService;

/// The layer x head grid of verdicts (docs/METHODS.md): hue = verdict (positional blue, feature
/// orange, mixed purple, none grey), saturation = confidence. The selected head is outlined;
/// clicking a cell selects that head everywhere.
class VerdictGrid : public QWidget
{
    Q_OBJECT
public:
    VerdictGrid(Selection* selection, QWidget* parent = nullptr);
    void setClassification(std::shared_ptr<const analysis::Classification> c);
    /// Before probing: which heads have a waiver at all (from the base run's importance), layer-major.
    void setSinks(int layers, int heads, std::vector<analysis::HeadSink> sinks);
    /// The cell of (layer, head) in widget coordinates (empty without a classification).
    QRect cellRect(int layer, int head) const;
    /// The colour a verdict with a confidence is drawn in.
    static QColor colour(analysis::Verdict verdict, double confidence);
    QSize sizeHint() const override { return {320, 240}; }

protected:
    void paintEvent(QPaintEvent*) override;
    void mousePressEvent(QMouseEvent* event) override;

private:
    Selection* m_selection;
    std::shared_ptr<const analysis::Classification> m_c;
    int m_layers = 0, m_heads = 0;
    std::vector<analysis::HeadSink> m_sinks;
};

/// The classification view: the model verdict on top, the verdict grid, and for the selected
/// head the evidence (each probe's number with the statistic before and after, and the head's
/// map in the base run beside its map in the probe picked in the table). "Classify" runs the
/// ClassifyJob on the run on screen through the JobService, with progress and Cancel;
/// classifyPromptSet runs it over a prompt file, and the view then also lists, for the selected
/// head, each prompt's verdict (the head's `agreement` is the share of prompts that agree with
/// the set's verdict, docs/METHODS.md "Several prompts"). The two small maps are drawn by
/// BinnedHeadMap at their size (block maxima when a cell is smaller than a pixel, said in their
/// tooltips); a long prompt's are binned off the GUI thread (mapsShown() when drawn).
class ClassificationView : public View
{
    Q_OBJECT
public:
    /// Registry entry "classification".
    static ViewSpec spec();

    ClassificationView(CurrentResult* current, Selection* selection, QWidget* parent = nullptr);
    ~ClassificationView() override;

    // View: before Classify, the figure is the grid of which heads have a waiver (verdict "none"
    // needs no probe); the CSV then says "unprobed" for the others.
    bool hasFigure() const override { return bool(m_c) || !m_sinks.empty(); }
    QWidget* figureWidget() override;
    QString defaultFileName() const override;
    QByteArray dataCsv() const override;

    std::shared_ptr<const analysis::Classification> classification() const { return m_c; }
    /// Shows a classification made elsewhere (e.g. by the CLI's job in a test); null clears.
    void setClassification(std::shared_ptr<const analysis::Classification> c);
    bool isRunning() const { return m_job != 0; }

    QPushButton* classifyButton() const { return m_classify; }
    QPushButton* cancelButton() const { return m_cancel; }
    QProgressBar* progressBar() const { return m_progress; }
    VerdictGrid* grid() const { return m_grid; }
    QTableWidget* evidenceTable() const { return m_evidence; }
    /// Per prompt of a prompt-set classification, the selected head's verdict: columns line,
    /// tokens, verdict, confidence (hidden for a single prompt).
    QTableWidget* promptTable() const { return m_prompts; }
    QString verdictText() const;
    QString statusText() const;
    /// The two small maps of the evidence panel (null images when none): one pixel per drawn
    /// block, [key blocks wide, query blocks high].
    QImage beforeMap() const { return m_beforeImage; }
    QImage afterMap() const { return m_afterImage; }
    /// What draws the maps before (0) and after (1).
    BinnedHeadMap* binnedMap(int side) const { return m_binned[side]; }
    /// True while a long prompt's maps are being binned off the GUI thread.
    bool isComputing() const override;

public Q_SLOTS:
    /// Runs the probes on the run on screen (no-op while one runs or without a run / service).
    void classify();
    /// Classifies every prompt of a prompt file (text or JSONL, as `sinkscope-cli classify
    /// --prompts`), each truncated to `length` tokens when > 0. An unreadable file is said in the
    /// status line (classificationFailed) and the previous classification stays.
    void classifyPromptSet(const QString& file, qint64 length = 0, sinkscope::BosPolicy bos = sinkscope::BosPolicy::Auto);
    void cancel();

Q_SIGNALS:
    void classificationChanged();
    /// Classify could not run or its job failed or was cancelled (the message is in the status
    /// line; the previous classification stays).
    void classificationFailed(const QString& message);
    /// The evidence maps of the selected head and probe are drawn (or said why not).
    void mapsShown();

private:
    void onProgress(quint64 id, const JobProgress& p);
    void onFinished(quint64 id, std::shared_ptr<const JobResult> r);
    void onFailed(quint64 id, const QString& message, bool cancelled);
    bool startJob(std::shared_ptr<Job> job, const QString& what);
    void updateEvidence();
    void updatePrompts();
    void updateMaps();
    void mapsDrawn();
    void updateButtons();
    void updateSinks();

    std::shared_ptr<const analysis::Classification> m_c;
    std::vector<analysis::HeadSink> m_sinks; ///< from the current analysis, layer-major
    int m_layers = 0, m_heads = 0;
    QPointer<JobService> m_service;
    uint64_t m_job = 0;
    QWidget* m_figure = nullptr;
    QLabel* m_verdict = nullptr;
    QLabel* m_status = nullptr;
    QPushButton* m_classify = nullptr;
    QPushButton* m_cancel = nullptr;
    QProgressBar* m_progress = nullptr;
    VerdictGrid* m_grid = nullptr;
    QTableWidget* m_evidence = nullptr;
    QTableWidget* m_prompts = nullptr;
    QLabel* m_before = nullptr;
    QLabel* m_after = nullptr;
    QImage m_beforeImage, m_afterImage;
    BinnedHeadMap* m_binned[2] = {};
};

} // namespace sinkscope
