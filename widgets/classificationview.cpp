// SPDX-License-Identifier: GPL-3.0-or-later
#include "classificationview.h"

#include "binnedheadmap.h"
#include "colormaps.h"
#include "currentresult.h"
#include "jobservice.h"
#include "plotstyle.h"
#include "selection.h"

#include "sinkscope/error.h"

#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMouseEvent>
#include <QPainter>
#include <QProgressBar>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>
#include <utility>

namespace sinkscope {

namespace an = sinkscope::analysis;

// ---- VerdictGrid ------------------------------------------------------------------------------

VerdictGrid::VerdictGrid(Selection* selection, QWidget* parent) : QWidget(parent), m_selection(selection)
{
    setMinimumSize(160, 120);
    connect(m_selection, &Selection::changed, this, qOverload<>(&QWidget::update));
}

void VerdictGrid::setClassification(std::shared_ptr<const an::Classification> c)
{
    m_c = std::move(c);
    update();
}

QColor VerdictGrid::colour(an::Verdict v, double confidence)
{
    const double c = std::min(1.0, std::max(0.0, confidence));
    int hue = -1;
    switch (v) {
    case an::Verdict::Positional: hue = 210; break;
    case an::Verdict::Feature: hue = 30; break;
    case an::Verdict::Mixed: hue = 280; break;
    case an::Verdict::None: break;
    }
    if (hue < 0)
        return QColor::fromHsv(0, 0, 225);
    // Saturation carries the confidence; a little is kept so a confidence-0 cell keeps its hue.
    return QColor::fromHsv(hue, int(40 + 215 * c), 235 - int(40 * c));
}

void VerdictGrid::setSinks(int layers, int heads, std::vector<an::HeadSink> sinks)
{
    m_layers = layers;
    m_heads = heads;
    m_sinks = std::move(sinks);
    update();
}

QRect VerdictGrid::cellRect(int layer, int head) const
{
    const int L = m_c ? m_c->model.layers : m_layers, H = m_c ? m_c->model.heads : m_heads;
    if (L <= 0 || H <= 0 || (!m_c && m_sinks.empty()))
        return {};
    const int left = 36, top = 18;
    const int w = std::max(1, (width() - left - 4) / H), h = std::max(1, (height() - top - 4) / L);
    return QRect(left + head * w, top + layer * h, w, h);
}

void VerdictGrid::paintEvent(QPaintEvent*)
{
    QPainter p(this);
    p.fillRect(rect(), palette().base());
    if (!m_c && m_sinks.empty())
        return;
    const int L = m_c ? m_c->model.layers : m_layers, H = m_c ? m_c->model.heads : m_heads;
    p.setPen(palette().text().color());
    for (int h = 0; h < H; ++h)
        p.drawText(cellRect(0, h).translated(0, -16).adjusted(0, 0, 0, -cellRect(0, h).height() + 16), Qt::AlignCenter,
                   QString::number(h));
    for (int l = 0; l < L; ++l)
        p.drawText(QRect(0, cellRect(l, 0).top(), 32, cellRect(l, 0).height()), Qt::AlignRight | Qt::AlignVCenter,
                   QStringLiteral("L%1").arg(l));
    if (m_c) {
        for (const an::HeadVerdict& v : m_c->heads)
            p.fillRect(cellRect(v.layer, v.head).adjusted(1, 1, -1, -1), colour(v.verdict, v.confidence));
    } else {
        // Not probed yet: heads without a waiver are grey (none), the others white with a "?".
        for (int i = 0; i < int(m_sinks.size()); ++i) {
            const QRect r = cellRect(i / H, i % H).adjusted(1, 1, -1, -1);
            p.fillRect(r, m_sinks[size_t(i)].present ? QColor(Qt::white) : colour(an::Verdict::None, 1.0));
            if (m_sinks[size_t(i)].present)
                p.drawText(r, Qt::AlignCenter, QStringLiteral("?"));
        }
    }
    if (m_selection->layer() >= 0 && m_selection->head() >= 0 && m_selection->layer() < L && m_selection->head() < H) {
        p.setPen(QPen(Qt::black, 2));
        p.setBrush(Qt::NoBrush);
        p.drawRect(cellRect(m_selection->layer(), m_selection->head()).adjusted(1, 1, -1, -1));
    }
}

void VerdictGrid::mousePressEvent(QMouseEvent* event)
{
    const int L = m_c ? m_c->model.layers : m_layers, H = m_c ? m_c->model.heads : m_heads;
    for (int l = 0; l < L; ++l)
        for (int h = 0; h < H; ++h)
            if (cellRect(l, h).contains(event->position().toPoint())) {
                m_selection->setLayerHead(l, h);
                return;
            }
}

// ---- ClassificationView -----------------------------------------------------------------------

namespace {

// The evidence maps' size in pixels: at most one drawn block per pixel.
constexpr int kMapPixels = 120;

// The drawn blocks as an image, one pixel per block (viridis, cells without a value light grey).
QImage binsImage(const BinnedHeadMap& m)
{
    const RowMatrixXf& v = m.values();
    if (!m.isShown() || v.size() == 0)
        return {};
    QImage img(int(v.cols()), int(v.rows()), QImage::Format_RGB32);
    const QRgb none = noValueColor().rgb();
    for (int t = 0; t < v.rows(); ++t)
        for (int k = 0; k < v.cols(); ++k)
            img.setPixel(k, t, std::isfinite(v(t, k)) ? colorMapColor(ColorMap::Viridis, v(t, k)).rgb() : none);
    return img;
}

} // namespace

ViewSpec ClassificationView::spec()
{
    return {QStringLiteral("classification"), tr("Classification"), QKeySequence(QStringLiteral("Ctrl+6")),
            tr("Why each head picked its waiver: positional, feature, mixed or none, with the probes' evidence."),
            [](CurrentResult* current, Selection* selection, QWidget* parent) -> View* {
                return new ClassificationView(current, selection, parent);
            }};
}

ClassificationView::ClassificationView(CurrentResult* currentResult, Selection* sharedSelection, QWidget* parent)
    : View(currentResult, sharedSelection, parent)
{
    auto* top = new QHBoxLayout;
    m_classify = new QPushButton(tr("Classify"), this);
    m_classify->setToolTip(tr("Run the probes of docs/METHODS.md on the run on screen"));
    m_cancel = new QPushButton(tr("Cancel"), this);
    m_progress = new QProgressBar(this);
    m_progress->setTextVisible(true);
    m_status = new QLabel(this);
    top->addWidget(m_classify);
    top->addWidget(m_cancel);
    top->addWidget(m_progress, 1);

    m_figure = new QWidget(this);
    auto* fig = new QVBoxLayout(m_figure);
    m_verdict = new QLabel(m_figure);
    m_verdict->setWordWrap(true);
    QFont bold = m_verdict->font();
    bold.setBold(true);
    m_verdict->setFont(bold);
    fig->addWidget(m_verdict);
    auto* body = new QHBoxLayout;
    m_grid = new VerdictGrid(selection(), m_figure);
    body->addWidget(m_grid, 3);
    auto* evidence = new QVBoxLayout;
    m_evidence = new QTableWidget(0, 4, m_figure);
    m_evidence->setHorizontalHeaderLabels({tr("probe"), tr("number"), tr("before"), tr("after")});
    m_evidence->verticalHeader()->hide();
    m_evidence->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_evidence->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_evidence->setSelectionMode(QAbstractItemView::SingleSelection);
    evidence->addWidget(m_evidence, 1);
    m_prompts = new QTableWidget(0, 4, m_figure);
    m_prompts->setHorizontalHeaderLabels({tr("prompt line"), tr("tokens"), tr("verdict"), tr("confidence")});
    m_prompts->verticalHeader()->hide();
    m_prompts->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_prompts->setToolTip(tr("The selected head's verdict in each prompt of the set"));
    m_prompts->hide();
    evidence->addWidget(m_prompts, 1);
    auto* maps = new QHBoxLayout;
    m_before = new QLabel(m_figure);
    m_after = new QLabel(m_figure);
    for (QLabel* l : {m_before, m_after}) {
        l->setMinimumSize(96, 96);
        l->setWordWrap(true); // the captions stand in for the maps until a probe is picked
        l->setAlignment(Qt::AlignCenter);
        maps->addWidget(l);
    }
    evidence->addLayout(maps);
    body->addLayout(evidence, 2);
    fig->addLayout(body, 1);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(m_status);
    layout->addWidget(m_figure, 1);

    for (int i = 0; i < 2; ++i) {
        m_binned[i] = new BinnedHeadMap(QSize(kMapPixels, kMapPixels), this);
        connect(m_binned[i], &BinnedHeadMap::shown, this, &ClassificationView::mapsDrawn);
    }
    connect(m_classify, &QPushButton::clicked, this, &ClassificationView::classify);
    connect(m_cancel, &QPushButton::clicked, this, &ClassificationView::cancel);
    connect(selection(), &Selection::changed, this, &ClassificationView::updateEvidence);
    connect(m_evidence, &QTableWidget::itemSelectionChanged, this, &ClassificationView::updateMaps);
    connect(current(), &CurrentResult::resultChanged, this, [this] {
        // A classification belongs to the tokens it probed; another run makes it stale.
        const auto r = current()->result();
        if (m_c && m_c->base && (!r || r->encoding.ids() != m_c->base->encoding.ids()))
            setClassification(nullptr);
        else if (m_c)
            current()->setClassification(m_c); // still valid (a prompt set, or the same tokens): publish it again
        updateSinks();
        updateButtons();
    });
    connect(current(), &CurrentResult::metricsAvailable, this, &ClassificationView::updateSinks);
    setClassification(nullptr);
}

ClassificationView::~ClassificationView()
{
    cancel();
}

QWidget* ClassificationView::figureWidget()
{
    // A view in a tab that was never shown has not been laid out: do it now, so that Export All
    // captures a figure of a sensible size.
    if (!isVisible()) {
        // A page the tab widget hid is shown off screen for the layout and hidden again; a view
        // whose window is not shown yet keeps its state.
        const bool wasHidden = isHidden();
        if (width() < 200 || height() < 150)
            resize(900, 600);
        if (wasHidden) {
            setAttribute(Qt::WA_DontShowOnScreen, true);
            show();
        }
        layout()->activate();
        if (wasHidden) {
            hide();
            setAttribute(Qt::WA_DontShowOnScreen, false);
        }
    }
    return m_figure;
}

QString ClassificationView::defaultFileName() const
{
    return QString::fromStdString(m_c ? m_c->model.name : std::string("model")) + QStringLiteral("-classification");
}

QByteArray ClassificationView::dataCsv() const
{
    if (m_c)
        return QByteArray::fromStdString(an::classificationFiles(*m_c).at("classification.csv"));
    if (m_sinks.empty())
        return {};
    QByteArray csv("layer,head,verdict,confidence,waiver_elements,sink_excess\n");
    const an::ClassifySettings st;
    for (int i = 0; i < int(m_sinks.size()); ++i) {
        const an::HeadSink& s = m_sinks[size_t(i)];
        QStringList elements;
        for (int e : s.elements)
            elements << QString::number(e);
        // "none" is decided by the base run alone; the other verdicts need the probes.
        const double conf = s.present ? 0.0 : std::max(0.0, 1.0 - s.excess / st.sinkExcess);
        csv += QStringLiteral("%1,%2,%3,%4,%5,%6\n")
                   .arg(i / m_heads)
                   .arg(i % m_heads)
                   .arg(s.present ? QStringLiteral("unprobed") : QStringLiteral("none"))
                   .arg(QString::number(conf, 'g', 9), elements.join(QLatin1Char(' ')), QString::number(s.excess, 'g', 9))
                   .toUtf8();
    }
    return csv;
}

void ClassificationView::updateSinks()
{
    m_sinks.clear();
    m_layers = m_heads = 0;
    const auto m = current()->metrics();
    if (m && current()->result() && !m->importance.empty()) {
        const an::ClassifySettings st;
        m_layers = m->layers;
        m_heads = m->heads;
        const int64_t T = m->tokens;
        for (int l = 0; l < m_layers; ++l)
            for (int h = 0; h < m_heads; ++h) {
                const Eigen::Map<const Eigen::VectorXf> alpha(m->importance.at({l, h}), T);
                m_sinks.push_back(an::headSinkFromImportance(alpha, m->causal, st.sinkExcess, st.minQueries));
            }
    }
    m_grid->setSinks(m_layers, m_heads, m_sinks);
    if (!m_c) {
        int withSink = 0;
        for (const an::HeadSink& s : m_sinks)
            withSink += s.present ? 1 : 0;
        m_verdict->setText(m_sinks.empty()
                               ? tr("No classification yet: press Classify to probe the run on screen.")
                               : tr("Not classified yet: %1 of %2 heads have a waiver (the others: none). Press Classify "
                                    "to probe them.")
                                     .arg(withSink)
                                     .arg(m_sinks.size()));
    }
    Q_EMIT figureChanged();
}

QString ClassificationView::verdictText() const
{
    return m_verdict->text();
}

QString ClassificationView::statusText() const
{
    return m_status->text();
}

void ClassificationView::setClassification(std::shared_ptr<const an::Classification> c)
{
    const auto old = std::exchange(m_c, std::move(c));
    m_grid->setClassification(m_c);
    // The overview's verdict metric reads it there; clearing ours leaves one published by others.
    if (m_c || current()->classification() == old)
        current()->setClassification(m_c);
    if (m_c) {
        QStringList counts;
        for (const char* name : {"positional", "feature", "mixed", "none"})
            counts << QStringLiteral("%1 %2").arg(m_c->counts.count(name) ? m_c->counts.at(name) : 0).arg(QLatin1String(name));
        m_verdict->setText(tr("Model verdict: %1 (%2 heads: %3; %4 forward passes%5)")
                               .arg(QLatin1String(an::verdictName(m_c->modelVerdict)))
                               .arg(m_c->heads.size())
                               .arg(counts.join(QStringLiteral(", ")))
                               .arg(m_c->forwardPasses)
                               .arg(m_c->prompts > 1 ? tr(" over %1 prompts").arg(m_c->prompts) : QString()));
    }
    updateSinks();
    updateEvidence();
    updateButtons();
    Q_EMIT classificationChanged();
    Q_EMIT figureChanged();
}

void ClassificationView::updateButtons()
{
    JobService* s = JobService::current();
    const bool canRun = s && s->canRun();
    m_classify->setEnabled(!m_job && canRun && current()->result());
    // Probes are new runs: without the model (a reopened session) the button says why it is off.
    m_classify->setToolTip(canRun ? tr("Run the probes on the prompt on screen")
                                  : tr("Classify needs the model: open the model folder to run the probes"));
    m_cancel->setEnabled(m_job != 0);
}

void ClassificationView::classify()
{
    const auto r = current()->result();
    if (m_job || !r)
        return;
    startJob(std::make_shared<an::ClassifyJob>(r->encoding, an::ClassifySettings{}), tr("Classifying…"));
}

void ClassificationView::classifyPromptSet(const QString& file, qint64 length, BosPolicy bos)
{
    if (m_job)
        return;
    an::PromptSet set;
    try {
        set = an::readPromptSet(file.toStdString());
    } catch (const Error& e) {
        m_status->setText(tr("Cannot read the prompt set: %1").arg(QString::fromStdString(e.describe())));
        Q_EMIT classificationFailed(m_status->text());
        return;
    }
    an::ClassifySettings settings;
    settings.bos = bos;
    settings.length = length;
    const int prompts = int(set.prompts.size());
    startJob(std::make_shared<an::ClassifyJob>(std::move(set), settings),
             tr("Classifying the %1 prompts of %2…").arg(prompts).arg(QFileInfo(file).fileName()));
}

bool ClassificationView::startJob(std::shared_ptr<Job> job, const QString& what)
{
    JobService* s = JobService::current();
    if (!s || !s->canRun()) {
        m_status->setText(tr("Open a model first: the probes run on the loaded model."));
        Q_EMIT classificationFailed(m_status->text());
        return false;
    }
    if (m_service != s) {
        if (m_service)
            disconnect(m_service, nullptr, this, nullptr);
        m_service = s;
        connect(s, &JobService::jobProgress, this, &ClassificationView::onProgress);
        connect(s, &JobService::jobFinished, this, &ClassificationView::onFinished);
        connect(s, &JobService::jobFailed, this, &ClassificationView::onFailed);
    }
    m_progress->setRange(0, 0);
    m_status->setText(what);
    m_job = s->startJob(std::move(job));
    updateButtons();
    return true;
}

void ClassificationView::cancel()
{
    if (m_job && m_service)
        m_service->cancelJob(m_job);
}

void ClassificationView::onProgress(quint64 id, const JobProgress& p)
{
    if (id != m_job)
        return;
    showJobProgress(m_progress, m_status, p);
}

void ClassificationView::onFinished(quint64 id, std::shared_ptr<const JobResult> r)
{
    if (id != m_job)
        return;
    m_job = 0;
    showJobEnded(m_progress);
    auto c = std::dynamic_pointer_cast<const an::Classification>(r);
    m_status->setText(c ? tr("Classified with %1 forward passes.").arg(c->forwardPasses) : tr("The job returned no classification."));
    setClassification(c);
}

void ClassificationView::onFailed(quint64 id, const QString& message, bool cancelled)
{
    if (id != m_job)
        return;
    m_job = 0;
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_status->setText(cancelled ? tr("Classification cancelled; the previous result is kept.")
                                : tr("Classification failed: %1").arg(message));
    updateButtons();
    Q_EMIT classificationFailed(m_status->text());
}

void ClassificationView::updateEvidence()
{
    m_evidence->setRowCount(0);
    const int l = selection()->layer(), h = selection()->head();
    if (m_c && l >= 0 && h >= 0 && l < m_c->model.layers && h < m_c->model.heads) {
        const an::HeadVerdict& v = m_c->heads.at(size_t(l * m_c->model.heads + h));
        QStringList elements;
        for (int e : v.waiverElements)
            elements << QString::number(e);
        m_evidence->setToolTip(tr("L%1.H%2: %3, confidence %4, waiver elements %5")
                                   .arg(l)
                                   .arg(h)
                                   .arg(QLatin1String(an::verdictName(v.verdict)))
                                   .arg(v.confidence, 0, 'f', 2)
                                   .arg(elements.isEmpty() ? tr("none") : elements.join(QLatin1Char(' '))));
        for (const auto& [name, x] : v.probes) {
            const int row = m_evidence->rowCount();
            m_evidence->insertRow(row);
            m_evidence->setItem(row, 0, new QTableWidgetItem(QString::fromStdString(name)));
            m_evidence->setItem(row, 1, new QTableWidgetItem(QString::number(x, 'f', 3)));
            auto ev = v.evidence.find(name);
            m_evidence->setItem(row, 2, new QTableWidgetItem(ev == v.evidence.end() ? QString() : QString::number(ev->second.before, 'f', 3)));
            m_evidence->setItem(row, 3, new QTableWidgetItem(ev == v.evidence.end() ? QString() : QString::number(ev->second.after, 'f', 3)));
        }
        // Start on the most decisive probe the head has.
        for (int row = 0; row < m_evidence->rowCount(); ++row)
            if (m_evidence->item(row, 0)->text() == QLatin1String("move")) {
                m_evidence->selectRow(row);
                break;
            }
    }
    updatePrompts();
    updateMaps();
}

void ClassificationView::updatePrompts()
{
    m_prompts->setRowCount(0);
    const int l = selection()->layer(), h = selection()->head();
    const bool several = m_c && m_c->perPrompt.size() > 1;
    m_prompts->setVisible(several);
    if (!several || l < 0 || h < 0 || l >= m_c->model.layers || h >= m_c->model.heads)
        return;
    const size_t i = size_t(l * m_c->model.heads + h);
    for (const an::Classification::PromptVerdicts& p : m_c->perPrompt) {
        if (i >= p.verdicts.size())
            continue;
        const int row = m_prompts->rowCount();
        m_prompts->insertRow(row);
        m_prompts->setItem(row, 0, new QTableWidgetItem(QString::number(p.line)));
        m_prompts->setItem(row, 1, new QTableWidgetItem(QString::number(p.tokens)));
        m_prompts->setItem(row, 2, new QTableWidgetItem(QLatin1String(an::verdictName(p.verdicts[i]))));
        m_prompts->setItem(row, 3, new QTableWidgetItem(i < p.confidence.size() ? QString::number(p.confidence[i], 'f', 3) : QString()));
    }
}

bool ClassificationView::isComputing() const
{
    return m_binned[0]->isComputing() || m_binned[1]->isComputing();
}

void ClassificationView::updateMaps()
{
    const int l = selection()->layer(), h = selection()->head();
    std::shared_ptr<const RunResult> runs[2];
    if (m_c && m_c->base && l >= 0 && h >= 0 && l < m_c->model.layers && h < m_c->model.heads) {
        runs[0] = m_c->base;
        const auto rows = m_evidence->selectionModel() ? m_evidence->selectionModel()->selectedRows() : QModelIndexList{};
        if (!rows.isEmpty()) {
            const std::string probe = m_evidence->item(rows.first().row(), 0)->text().toStdString();
            for (size_t i = 0; i < m_c->design.variants.size() && i < m_c->probeRuns.size(); ++i)
                if (m_c->design.variants[i].name == probe)
                    runs[1] = m_c->probeRuns[i];
        }
    }
    // Drawn at once for a short prompt; a long prompt's maps arrive in mapsDrawn.
    for (int i = 0; i < 2; ++i) {
        if (runs[i] && runs[i]->canMakeMaps())
            m_binned[i]->showMap(runs[i], l, h);
        else
            m_binned[i]->clear();
    }
    mapsDrawn();
}

void ClassificationView::mapsDrawn()
{
    m_beforeImage = binsImage(*m_binned[0]);
    m_afterImage = binsImage(*m_binned[1]);
    auto show = [](QLabel* label, const QImage& img, const BinnedHeadMap& m, const QString& caption) {
        if (img.isNull()) {
            label->setPixmap(QPixmap());
            label->setText(m.isComputing() ? tr("computing the map …") : caption);
            label->setToolTip(caption);
        } else {
            label->setPixmap(QPixmap::fromImage(img.scaled(kMapPixels, kMapPixels, Qt::KeepAspectRatio, Qt::FastTransformation)));
            label->setToolTip(caption + QStringLiteral(" (") + m.aggregateText() + QStringLiteral(")"));
        }
    };
    show(m_before, m_beforeImage, *m_binned[0], tr("before: the head's map in the base run"));
    show(m_after, m_afterImage, *m_binned[1], tr("after: the head's map in the probe picked in the table"));
    if (!isComputing())
        Q_EMIT mapsShown();
}

} // namespace sinkscope
