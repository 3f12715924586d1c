// SPDX-License-Identifier: GPL-3.0-or-later
// The run pre-flight's decision (sinkscope/preflight.h) with injected numbers: host-only runs, CUDA
// runs against the device's free memory, unknown sizes, and the 90 % boundary. The GiB values are
// chosen so every expected message is exact by hand.
#include "sinkscope/preflight.h"

#include <QtTest>

using namespace sinkscope;

namespace {

constexpr double GiB = 1024.0 * 1024.0 * 1024.0;

RunMemoryEstimate estimate(double attention, double mlp, double captures)
{
    return RunMemoryEstimate{attention * GiB, mlp * GiB, captures * GiB};
}

MemoryAvailable host(double bytes)
{
    MemoryAvailable m;
    m.hostBytes = bytes * GiB;
    m.hostSource = "MemAvailable";
    return m;
}

MemoryAvailable device(double hostGiB, double freeGiB, double totalGiB)
{
    MemoryAvailable m = host(hostGiB);
    m.onDevice = true;
    m.deviceName = "cuda:0";
    m.deviceFreeBytes = freeGiB * GiB;
    m.deviceTotalBytes = totalGiB * GiB;
    return m;
}

QString refusal(const RunMemoryEstimate& e, const MemoryAvailable& m)
{
    const auto r = preflightRefusal(e, 100, m);
    return r ? QString::fromStdString(*r) : QStringLiteral("fits");
}

} // namespace

class TestPreflight : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void hostOnly();
    void onDevice();
    void unknownSizes();
    void batched();
};

void TestPreflight::batched()
{
    // Model::runBatch: the working set of its largest [B, T] pass and the captures of every
    // request, refused as one batched run.
    RunMemoryEstimate e = estimate(4, 0.5, 5);
    e.batch = 8;
    e.requests = 32;
    QCOMPARE(refusal(e, host(10)),
             QStringLiteral("This batched run needs about 9.50 GiB of memory (its largest batch: 8 prompts x 100 tokens, "
                            "attention 4.00 GiB per layer, MLP 0.50 GiB; captures of all 32 prompts 5.00 GiB) but only "
                            "10.00 GiB is available (MemAvailable). Use a smaller batch size, shorter prompts, capture "
                            "less, or free memory."));
    QCOMPARE(refusal(e, host(11)), QStringLiteral("fits"));
    RunMemoryEstimate d = estimate(8, 1, 1);
    d.batch = 4;
    d.requests = 4;
    QCOMPARE(refusal(d, device(100, 9, 80)),
             QStringLiteral("This batched run needs about 9.00 GiB of memory on cuda:0 (its largest batch: 4 prompts x 100 "
                            "tokens, attention 8.00 GiB per layer, MLP 1.00 GiB) but only 9.00 GiB of its 80.00 GiB is "
                            "free. Use a smaller batch size, shorter prompts, free the device, or run on the CPU."));
}

void TestPreflight::hostOnly()
{
    QCOMPARE(refusal(estimate(4, 0.5, 3.5), host(10)), QStringLiteral("fits"));
    // 9 GiB is exactly 90 % of 10 GiB: still allowed; a byte more is not.
    QCOMPARE(refusal(estimate(4, 0.5, 4.5), host(10)), QStringLiteral("fits"));
    QCOMPARE(refusal(estimate(4, 0.5, 5), host(10)),
             QStringLiteral("This run needs about 9.50 GiB of memory (100 tokens: attention 4.00 GiB per layer; MLP "
                            "0.50 GiB; captures 5.00 GiB) but only 10.00 GiB is available (MemAvailable). Use a shorter "
                            "prompt, capture less, or free memory."));
}

void TestPreflight::onDevice()
{
    // The per-layer working set (6 + 2 GiB) against the device: 8 <= 0.9 x 9, but 8 > 0.9 x 8.5.
    QCOMPARE(refusal(estimate(6, 2, 1), device(64, 9, 80)), QStringLiteral("fits"));
    QCOMPARE(refusal(estimate(6, 2, 1), device(64, 8.5, 80)),
             QStringLiteral("This run needs about 8.00 GiB of memory on cuda:0 (100 tokens: attention 6.00 GiB per "
                            "layer; MLP 2.00 GiB) but only 8.50 GiB of its 80.00 GiB is free. Use a shorter prompt, "
                            "free the device, or run on the CPU."));
    // Captures live on the host: 50 GiB of them do not count against a 10 GiB device...
    QCOMPARE(refusal(estimate(0.5, 0.5, 50), device(64, 10, 80)), QStringLiteral("fits"));
    // ...but they must fit the host.
    QCOMPARE(refusal(estimate(0.5, 0.5, 20), device(16, 10, 80)),
             QStringLiteral("This run keeps about 20.00 GiB of captures in host memory (100 tokens) but only 16.00 GiB "
                            "is available (MemAvailable). Use a shorter prompt, capture less, or free memory."));
    // A CPU run of the same size would have been refused against the host's 16 GiB as a whole.
    QVERIFY(refusal(estimate(0.5, 0.5, 20), host(16)).startsWith("This run needs about 21.00 GiB of memory (100"));
}

void TestPreflight::unknownSizes()
{
    // 0 means the machine did not say: nothing is refused on a number that is not there.
    QCOMPARE(refusal(estimate(100, 100, 100), host(0)), QStringLiteral("fits"));
    QCOMPARE(refusal(estimate(100, 100, 1), device(64, 0, 0)), QStringLiteral("fits"));
    QCOMPARE(refusal(estimate(1, 1, 100), device(0, 10, 80)), QStringLiteral("fits"));
}

QTEST_GUILESS_MAIN(TestPreflight)
#include "tst_preflight.moc"
