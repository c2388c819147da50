using Pipeline.Summaries;

namespace Pipeline.Aggregator.Tests;

public sealed class SummaryWindowsTests
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(30);

    private static DateTimeOffset At(string time) => DateTimeOffset.Parse(time, System.Globalization.CultureInfo.InvariantCulture);

    [Theory]
    [InlineData("2026-11-24T10:00:00Z", "2026-11-24T10:00:00Z")]
    [InlineData("2026-11-24T10:59:59.9999999Z", "2026-11-24T10:00:00Z")]
    [InlineData("2026-11-24T11:30:00+01:00", "2026-11-24T10:00:00Z")]
    public void A_window_starts_at_an_epoch_aligned_boundary_and_holds_its_start(string time, string start)
    {
        var window = SummaryWindows.Containing(At(time), Hour);

        Assert.Equal(At(start), window.Start);
        Assert.Equal(At(start) + Hour, window.End);
    }

    [Fact]
    public void Seven_minute_windows_align_to_the_epoch_not_the_hour()
    {
        var window = SummaryWindows.Containing(At("1970-01-01T00:15:00Z"), TimeSpan.FromMinutes(7));

        Assert.Equal(At("1970-01-01T00:14:00Z"), window.Start);
    }

    [Fact]
    public void A_window_is_not_due_until_it_has_settled()
    {
        var early = SummaryWindows.Due(At("2026-11-24T10:00:10Z"), Hour, Settle, from: At("2026-11-24T09:00:00Z"), max: 48);
        var settled = SummaryWindows.Due(At("2026-11-24T10:00:30Z"), Hour, Settle, from: At("2026-11-24T09:00:00Z"), max: 48);

        Assert.Empty(early);
        Assert.Equal(At("2026-11-24T09:00:00Z"), Assert.Single(settled).Start);
    }

    [Fact]
    public void Missed_runs_are_caught_up_oldest_first_and_bounded()
    {
        var all = SummaryWindows.Due(At("2026-11-24T10:05:00Z"), Hour, Settle, from: At("2026-11-24T05:00:00Z"), max: 48);
        var bounded = SummaryWindows.Due(At("2026-11-24T10:05:00Z"), Hour, Settle, from: At("2026-11-24T05:00:00Z"), max: 2);

        Assert.Equal([5, 6, 7, 8, 9], all.Select(w => w.Start.Hour));
        Assert.Equal([5, 6], bounded.Select(w => w.Start.Hour));
    }

    [Fact]
    public void A_rerun_after_the_latest_window_finds_nothing_due()
    {
        var due = SummaryWindows.Due(At("2026-11-24T10:59:00Z"), Hour, Settle, from: At("2026-11-24T10:00:00Z"), max: 48);

        Assert.Empty(due);
    }
}
