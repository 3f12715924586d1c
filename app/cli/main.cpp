// SPDX-License-Identifier: GPL-3.0-or-later
#include "cli.h"

#include "sinkscope/text.h"

#include <QCoreApplication>
#include <QStringList>
#ifdef SINKSCOPE_CLI_HAS_WIDGETS
#include <QApplication>
#endif

#include <cstdio>
#include <cstring>
#include <string>

namespace {

// Qt decodes arguments leniently (bytes that are not UTF-8 become U+FFFD), so such a prompt would
// quietly run as different text. Refuse it like any other bad input instead.
bool argumentsAreUtf8(int argc, char** argv)
{
    for (int a = 1; a < argc; ++a) {
        const std::size_t i = sinkscope::firstInvalidUtf8(argv[a]);
        if (i == std::string_view::npos)
            continue;
        const bool value = a > 1 && std::strncmp(argv[a - 1], "--", 2) == 0;
        std::fprintf(stderr, "error: %s%s%s is not valid UTF-8 (byte 0x%02X at byte offset %zu).\n",
                     value ? "The value of " : "Argument ", value ? argv[a - 1] : "", value ? "" : std::to_string(a).c_str(),
                     unsigned(static_cast<unsigned char>(argv[a][i])), i);
        return false;
    }
    return true;
}

} // namespace

int main(int argc, char** argv)
{
    if (!argumentsAreUtf8(argc, argv))
        return 1;
#ifdef SINKSCOPE_CLI_HAS_WIDGETS
    // `figure` draws views, which are widgets: it needs a QApplication, and without a display it
    // must not try to reach one. Offscreen is the default unless the caller chose a platform.
    if (argc > 1 && std::strcmp(argv[1], "figure") == 0) {
        if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
            qputenv("QT_QPA_PLATFORM", "offscreen");
        // QGuiApplication takes options of its own out of the command line (--session among
        // them, for X11 session management), so it sees only the program name; the command's
        // arguments are decoded here (checked as UTF-8 above).
        QStringList args;
        for (int i = 0; i < argc; ++i)
            args << QString::fromUtf8(argv[i]);
        int qtArgc = 1;
        QApplication app(qtArgc, argv);
        QCoreApplication::setApplicationName(QStringLiteral("sinkscope-cli"));
        return sinkscope::cli::dispatch(args);
    }
#endif
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("sinkscope-cli"));
    return sinkscope::cli::dispatch(QCoreApplication::arguments());
}
