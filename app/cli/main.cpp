// SPDX-License-Identifier: GPL-3.0-or-later
#include "cli.h"

#include <QCoreApplication>
#include <QStringList>
#ifdef SINKSCOPE_CLI_HAS_WIDGETS
#include <QApplication>
#endif

#include <cstdio>
#include <cstring>
#include <string>

namespace {

// Length of the UTF-8 sequence at p (at most n bytes), or 0 when it is not valid UTF-8
// (overlong forms, surrogates and code points past U+10FFFF included).
int utf8Length(const unsigned char* p, size_t n)
{
    if (p[0] < 0x80)
        return 1;
    int len = 0;
    unsigned min = 0, cp = 0;
    if ((p[0] & 0xE0) == 0xC0)
        len = 2, min = 0x80, cp = p[0] & 0x1F;
    else if ((p[0] & 0xF0) == 0xE0)
        len = 3, min = 0x800, cp = p[0] & 0x0F;
    else if ((p[0] & 0xF8) == 0xF0)
        len = 4, min = 0x10000, cp = p[0] & 0x07;
    else
        return 0;
    if (size_t(len) > n)
        return 0;
    for (int i = 1; i < len; ++i) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

// Qt decodes arguments leniently (bytes that are not UTF-8 become U+FFFD), so such a prompt would
// quietly run as different text. Refuse it like any other bad input instead.
bool argumentsAreUtf8(int argc, char** argv)
{
    for (int a = 1; a < argc; ++a) {
        const auto* p = reinterpret_cast<const unsigned char*>(argv[a]);
        const size_t n = std::strlen(argv[a]);
        for (size_t i = 0; i < n;) {
            const int len = utf8Length(p + i, n - i);
            if (len > 0) {
                i += size_t(len);
                continue;
            }
            const bool value = a > 1 && std::strncmp(argv[a - 1], "--", 2) == 0;
            std::fprintf(stderr, "error: %s%s%s is not valid UTF-8 (byte 0x%02X at byte offset %zu).\n",
                         value ? "The value of " : "Argument ", value ? argv[a - 1] : "", value ? "" : std::to_string(a).c_str(),
                         unsigned(p[i]), i);
            return false;
        }
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
