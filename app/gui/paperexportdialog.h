// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "figureexport.h"

#include <QDialog>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;

/// File → Export Figure for Paper: the size preset (one column, two columns, custom W×H), the
/// PNG density, the font size and the colour map of a figure bundle.
class PaperExportDialog : public QDialog {
    Q_OBJECT
public:
    /// Opens at `preset` ("one-column" or "two-column": the view's ViewSpec::figurePreset).
    explicit PaperExportDialog(const QString& preset = QStringLiteral("one-column"), QWidget* parent = nullptr);
    /// The export options for the choices made (valid after the dialog was accepted).
    sinkscope::FigureExportOptions options() const;
    QString presetName() const;

private:
    void validate();

    QComboBox* m_preset = nullptr;
    QLineEdit* m_custom = nullptr;
    QSpinBox* m_dpi = nullptr;
    QDoubleSpinBox* m_font = nullptr;
    QComboBox* m_colorMap = nullptr;
    QLabel* m_problem = nullptr;
    QPushButton* m_ok = nullptr;
    sinkscope::FigurePreset m_chosen;
};
