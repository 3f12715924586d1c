// SPDX-License-Identifier: GPL-3.0-or-later
#include "paperexportdialog.h"

#include "colormaps.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>

using namespace sinkscope;

PaperExportDialog::PaperExportDialog(const QString& preset, QWidget* parent) : QDialog(parent)
{
    setWindowTitle(tr("Export Figure for Paper"));
    m_preset = new QComboBox(this);
    m_preset->addItem(tr("One column (3.3 × 2.6 in)"), QStringLiteral("one-column"));
    m_preset->addItem(tr("Two columns (6.9 × 3.2 in)"), QStringLiteral("two-column"));
    m_preset->addItem(tr("Custom"), QString());
    m_preset->setCurrentIndex(std::max(0, m_preset->findData(preset)));
    m_custom = new QLineEdit(QStringLiteral("4x3in"), this);
    m_custom->setToolTip(tr("Width x height in in, cm or mm: 4x3in, 90x60mm"));
    m_dpi = new QSpinBox(this);
    m_dpi->setRange(72, 2400);
    m_dpi->setValue(300);
    m_dpi->setSuffix(tr(" dpi"));
    m_dpi->setToolTip(tr("Density of PNG figures; PDF and SVG keep text and axes as vectors"));
    m_font = new QDoubleSpinBox(this);
    m_font->setRange(8.0, 10.0);
    m_font->setSingleStep(0.5);
    m_font->setValue(9.0);
    m_font->setSuffix(tr(" pt"));
    m_colorMap = new QComboBox(this);
    m_colorMap->addItem(tr("as on screen"), QString());
    for (const QString& name : colorMapNames())
        m_colorMap->addItem(name, name);
    m_problem = new QLabel(this);
    m_problem->setWordWrap(true);

    auto* form = new QFormLayout(this);
    form->addRow(tr("Size:"), m_preset);
    form->addRow(tr("Custom size:"), m_custom);
    form->addRow(tr("PNG density:"), m_dpi);
    form->addRow(tr("Font size:"), m_font);
    form->addRow(tr("Colour map:"), m_colorMap);
    form->addRow(m_problem);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    m_ok = buttons->button(QDialogButtonBox::Ok);
    form->addRow(buttons);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_preset, &QComboBox::currentIndexChanged, this, &PaperExportDialog::validate);
    connect(m_custom, &QLineEdit::textChanged, this, &PaperExportDialog::validate);
    validate();
}

void PaperExportDialog::validate()
{
    const QString preset = m_preset->currentData().toString();
    m_custom->setEnabled(preset.isEmpty());
    QString error;
    const auto p = parseFigurePreset(preset.isEmpty() ? m_custom->text().trimmed() : preset, &error);
    m_problem->setText(p ? QString() : error);
    m_ok->setEnabled(bool(p));
    if (p)
        m_chosen = *p;
}

FigureExportOptions PaperExportDialog::options() const
{
    FigureExportOptions o = printFigureOptions(m_chosen, m_font->value(), m_dpi->value());
    o.colorMap = parseColorMap(m_colorMap->currentData().toString());
    return o;
}

QString PaperExportDialog::presetName() const
{
    return m_chosen.name;
}
