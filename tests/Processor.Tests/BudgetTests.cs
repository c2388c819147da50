using Pipeline.Lambda;

namespace Pipeline.Processor.Tests;

/// <summary>An invocation's time budget: none left means cancelled before any work starts, never a timer that fires later.</summary>
public sealed class BudgetTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(-5000)]
    public void No_time_left_cancels_before_the_call_returns_and_a_deadline_long_past_does_not_throw(int milliseconds)
    {
        using var budget = new CancellationTokenSource();
        budget.CancelAfterOrNow(TimeSpan.FromMilliseconds(milliseconds));
        Assert.True(budget.IsCancellationRequested);
    }

    [Fact]
    public async Task Time_left_cancels_when_it_runs_out()
    {
        using var budget = new CancellationTokenSource();
        budget.CancelAfterOrNow(TimeSpan.FromMilliseconds(200));
        Assert.False(budget.IsCancellationRequested);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.Delay(TimeSpan.FromSeconds(30), budget.Token));
    }
}
