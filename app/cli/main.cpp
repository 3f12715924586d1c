// SPDX-License-Identifier: GPL-3.0-or-later
#include "cli.h"

#include "sinkscope/text.h"

#include <QCoreApplication>

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
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("sinkscope-cli"));
    return sinkscope::cli::dispatch(QCoreApplication::arguments());
}
