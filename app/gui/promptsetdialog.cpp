// SPDX-License-Identifier: GPL-3.0-or-later
#include "promptsetdialog.h"

#include "sinkscope/error.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QMessageBox>
#include <QPushButton>
#include <QSpinBox>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

using namespace sinkscope;
namespace an = sinkscope::analysis;

namespace {

QTableWidget* makeTable(const QStringList& headers, const QString& name, QWidget* parent)
{
    auto* t = new QTableWidget(0, int(headers.size()), parent);
    t->setObjectName(name);
    t->setHorizontalHeaderLabels(headers);
    t->setEditTriggers(QAbstractItemView::NoEditTriggers);
    t->setSelectionBehavior(QAbstractItemView::SelectRows);
    t->verticalHeader()->hide();
    t->horizontalHeader()->setStretchLastSection(true);
    return t;
}

QTableWidgetItem* cell(const QString& text)
{
    auto* item = new QTableWidgetItem(text);
    item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    return item;
}

QTableWidgetItem* cell(double v, int decimals = 4)
{
    return cell(std::isfinite(v) ? QString::number(v, 'f', decimals) : QStringLiteral("–"));
}

QTableWidgetItem* cell(int64_t v)
{
    return cell(QString::number(v));
}

} // namespace

PromptSetDialog::PromptSetDialog(QWidget* parent) : QDialog(parent)
{
    setWindowTitle(tr("Prompt Set Metrics"));
    auto* layout = new QVBoxLayout(this);
    m_summary = new QLabel(this);
    m_summary->setObjectName(QStringLiteral("promptSetSummary"));
    m_summary->setWordWrap(true);
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_summary);

    auto* row = new QHBoxLayout;
    row->addWidget(new QLabel(tr("Prompt length:"), this));
    m_length = new QComboBox(this);
    m_length->setObjectName(QStringLiteral("lengthCombo"));
    m_length->setToolTip(tr("Prompts of different lengths are never averaged together: pick the group to show"));
    row->addWidget(m_length);
    row->addStretch(1);
    layout->addLayout(row);
    connect(m_length, &QComboBox::activated, this,
            [this](int index) { showLength(m_length->itemData(index).toLongLong()); });

    m_sinkRate = new QLabel(this);
    m_sinkRate->setObjectName(QStringLiteral("sinkRateLabel"));
    m_sinkRate->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_sinkRate);

    auto* tabs = new QTabWidget(this);
    m_curve = makeTable({tr("layer"), tr("mean"), tr("std over heads"), tr("last-query mean"), tr("last-query std")},
                        QStringLiteral("sinkCurveTable"), tabs);
    m_waiver = makeTable({tr("layer"), tr("head"), tr("element"), tr("score"), tr("std over prompts")},
                         QStringLiteral("waiverTable"), tabs);
    m_massive = makeTable({tr("hidden state"), tr("dim"), tr("element"), tr("value"), tr("prompts")},
                          QStringLiteral("massiveTable"), tabs);
    m_perPrompt = makeTable({tr("line"), tr("T"), tr("Sink rate %"), tr("first-element mass"), tr("top waiver score")},
                            QStringLiteral("perPromptTable"), tabs);
    m_issues = new QListWidget(tabs);
    m_issues->setObjectName(QStringLiteral("issueList"));
    tabs->addTab(m_curve, tr("Sink curve"));
    tabs->addTab(m_waiver, tr("Waiver heads"));
    tabs->addTab(m_massive, tr("Massive activations"));
    tabs->addTab(m_perPrompt, tr("Per prompt"));
    tabs->addTab(m_issues, tr("Skipped lines"));
    layout->addWidget(tabs, 1);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    QPushButton* save = buttons->addButton(tr("Save Metrics…"), QDialogButtonBox::ActionRole);
    save->setObjectName(QStringLiteral("saveMetricsButton"));
    connect(save, &QPushButton::clicked, this, &PromptSetDialog::saveDialog);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
    resize(760, 560);
}

void PromptSetDialog::setResult(std::shared_ptr<const PromptSetResult> result)
{
    m_result = std::move(result);
    m_length->clear();
    m_issues->clear();
    m_perPrompt->setRowCount(0);
    if (!m_result) {
        m_summary->clear();
        showLength(0);
        return;
    }
    const PromptSetResult& r = *m_result;
    QString text = tr("%1 of %2 prompts analysed%3 on %4.")
                       .arg(r.runs.size())
                       .arg(r.total)
                       .arg(r.source.isEmpty() ? QString() : tr(" from %1").arg(QDir::toNativeSeparators(r.source)))
                       .arg(QString::fromStdString(r.report.model.name));
    if (r.cancelled)
        text += tr(" Cancelled: the numbers cover the prompts finished before.");
    if (!r.issues.empty())
        text += tr(" %n line(s) could not be used (see Skipped lines).", nullptr, int(r.issues.size()));
    if (r.groups.groups.size() > 1)
        text += tr(" The prompts have %1 different lengths; each length is a separate group.").arg(r.groups.groups.size());
    if (r.report.length > 0)
        text += tr(" Every prompt was truncated to T = %1.").arg(r.report.length);
    m_summary->setText(text);

    for (const auto& [T, members] : r.groups.groups)
        m_length->addItem(tr("T = %1 (%n prompt(s))", nullptr, int(members.size())).arg(T), QVariant::fromValue<qlonglong>(T));
    for (const an::PromptIssue& issue : r.issues)
        m_issues->addItem(tr("line %1: %2").arg(issue.line).arg(QString::fromStdString(issue.message)));

    m_perPrompt->setRowCount(int(r.runs.size()));
    for (size_t i = 0; i < r.runs.size(); ++i) {
        const an::RunMetrics& m = r.runs[i].metrics;
        float top = 0.0f;
        for (const an::HeadElement& w : m.waiver)
            top = std::max(top, w.value);
        const int row = int(i);
        m_perPrompt->setItem(row, 0, cell(int64_t(r.runs[i].line)));
        m_perPrompt->setItem(row, 1, cell(m.tokens));
        m_perPrompt->setItem(row, 2, cell(m.sinkRate.percent, 2));
        m_perPrompt->setItem(row, 3, cell(m.firstTokenMass.size() ? double(m.firstTokenMass.mean()) : NAN));
        m_perPrompt->setItem(row, 4, m.waiver.empty() ? cell(QStringLiteral("–")) : cell(double(top)));
        m_perPrompt->item(row, 0)->setToolTip(QString::fromStdString(r.runs[i].text));
    }
    showLength(r.groups.mainLength);
}

bool PromptSetDialog::showLength(int64_t tokens)
{
    m_curve->setRowCount(0);
    m_waiver->setRowCount(0);
    m_massive->setRowCount(0);
    m_shownT = 0;
    if (!m_result || !m_result->means.count(tokens)) {
        m_sinkRate->setText(m_result ? tr("No prompt was analysed.") : QString());
        return false;
    }
    m_shownT = tokens;
    m_length->setCurrentIndex(m_length->findData(QVariant::fromValue<qlonglong>(tokens)));
    const an::RunMetrics& m = m_result->means.at(tokens);
    const an::MetricsSpread& s = m_result->spreads.at(tokens);

    m_sinkRate->setText(tr("Sink rate Sink_%1^ε: %2 % (std %3 over prompts) · k = %1 · ε = %4 · T = %5 · %n prompt(s)",
                           nullptr, m.prompts)
                            .arg(m.sinkRate.k)
                            .arg(m.sinkRate.percent, 0, 'f', 2)
                            .arg(s.sinkRatePercent, 0, 'f', 2)
                            .arg(m.sinkRate.epsilon)
                            .arg(m.sinkRate.tokens));

    const an::SinkCurve& c = m.sinkCurve;
    m_curve->setRowCount(int(c.mean.size()));
    for (Eigen::Index l = 0; l < c.mean.size(); ++l) {
        m_curve->setItem(int(l), 0, cell(int64_t(l)));
        m_curve->setItem(int(l), 1, cell(double(c.mean[l])));
        m_curve->setItem(int(l), 2, cell(double(c.std[l])));
        m_curve->setItem(int(l), 3, cell(l < c.lastMean.size() ? double(c.lastMean[l]) : NAN));
        m_curve->setItem(int(l), 4, cell(l < c.lastStd.size() ? double(c.lastStd[l]) : NAN));
    }

    // Top waiver per head, the strongest first.
    std::vector<an::HeadElement> waiver = m.waiver;
    std::stable_sort(waiver.begin(), waiver.end(),
                     [](const an::HeadElement& a, const an::HeadElement& b) { return a.value > b.value; });
    m_waiver->setRowCount(int(waiver.size()));
    for (size_t i = 0; i < waiver.size(); ++i) {
        const an::HeadElement& w = waiver[i];
        double sd = NAN;
        const Tensor& t = s.waiverScores;
        if (!t.empty() && t.shape.size() == 3 && w.layer < t.size(0) && w.head < t.size(1) && w.element < t.size(2))
            sd = t.data[size_t((int64_t(w.layer) * t.size(1) + w.head) * t.size(2) + w.element)];
        const int row = int(i);
        m_waiver->setItem(row, 0, cell(int64_t(w.layer)));
        m_waiver->setItem(row, 1, cell(int64_t(w.head)));
        m_waiver->setItem(row, 2, cell(int64_t(w.element)));
        m_waiver->setItem(row, 3, cell(double(w.value)));
        m_waiver->setItem(row, 4, cell(sd));
    }

    m_massive->setRowCount(int(m.massive.size()));
    for (size_t i = 0; i < m.massive.size(); ++i) {
        const an::MassiveActivation& a = m.massive[i];
        const int row = int(i);
        m_massive->setItem(row, 0, cell(int64_t(a.layer)));
        m_massive->setItem(row, 1, cell(int64_t(a.dim)));
        m_massive->setItem(row, 2, cell(int64_t(a.element)));
        m_massive->setItem(row, 3, cell(double(a.value), 2));
        m_massive->setItem(row, 4, cell(int64_t(a.prompts)));
    }
    return true;
}

QString PromptSetDialog::sinkRateText() const
{
    return m_sinkRate->text();
}

bool PromptSetDialog::saveTo(const QString& dir, QString* error)
{
    if (!m_result || m_result->runs.empty()) {
        if (error)
            *error = tr("There are no metrics to save.");
        return false;
    }
    try {
        const auto files = an::metricsFiles(m_result->runs, m_result->report);
        an::writeMetricsFolder(dir.toStdString(), files);
    } catch (const Error& e) {
        if (error)
            *error = QString::fromStdString(e.describe());
        return false;
    }
    return true;
}

void PromptSetDialog::saveDialog()
{
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Save Metrics Into Folder"), QDir::homePath());
    if (dir.isEmpty())
        return;
    QString error;
    if (saveTo(dir, &error))
        QMessageBox::information(this, tr("Metrics saved"),
                                 tr("metrics.json and the CSV tables were written to %1.").arg(QDir::toNativeSeparators(dir)));
    else
        QMessageBox::warning(this, tr("Save failed"), error);
}

bool PromptSetDialog::askSettings(QWidget* parent, PromptSetRunner::Settings* settings, bool metricOptions)
{
    QDialog d(parent);
    d.setWindowTitle(tr("Prompt Set Settings"));
    auto* form = new QFormLayout(&d);
    auto* length = new QSpinBox(&d);
    length->setRange(0, 1 << 20);
    length->setValue(int(settings->length));
    length->setSpecialValueText(tr("no truncation (group by length)"));
    length->setToolTip(tr("Truncate every prompt to T tokens (shorter prompts are skipped); otherwise prompts are "
                          "grouped by their length"));
    auto* epsilon = new QDoubleSpinBox(&d);
    epsilon->setRange(0.0, 0.99);
    epsilon->setDecimals(3);
    epsilon->setSingleStep(0.05);
    epsilon->setValue(settings->options.epsilon);
    auto* k = new QSpinBox(&d);
    k->setRange(0, 1 << 20);
    k->setValue(settings->options.sinkElement);
    form->addRow(tr("Length T:"), length);
    if (metricOptions) {
        form->addRow(tr("Threshold ε:"), epsilon);
        form->addRow(tr("Sink element k:"), k);
    } else {
        epsilon->hide();
        k->hide();
    }
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, &d);
    connect(buttons, &QDialogButtonBox::accepted, &d, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, &d, &QDialog::reject);
    form->addRow(buttons);
    if (d.exec() != QDialog::Accepted)
        return false;
    settings->length = length->value();
    settings->options.epsilon = epsilon->value();
    settings->options.sinkElement = k->value();
    return true;
}
