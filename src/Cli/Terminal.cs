using System.Diagnostics;
using Spectre.Console;

namespace Pipeline.Cli;

/// <summary>A step of a long command: how far it is, of how much, and a line saying so.</summary>
/// <param name="Done">Work done, in the unit of <paramref name="Total"/>.</param>
/// <param name="Total">All the work.</param>
/// <param name="Status">A line for a person.</param>
public readonly record struct ProgressStep(double Done, double Total, string Status);

/// <summary>
/// Output for a person at a terminal (tables, progress bars, with Spectre.Console) or for a pipe, a log or a test
/// (the same tables without colour; progress as a plain line now and then).
/// </summary>
public static class Terminal
{
    private const int PlainWidth = 200;

    private static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(10);

    /// <summary>True when <paramref name="output"/> is the process's own terminal.</summary>
    public static bool IsLive(TextWriter output) => ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;

    /// <summary>A console that writes to <paramref name="output"/>.</summary>
    public static IAnsiConsole For(TextWriter output)
    {
        if (IsLive(output))
        {
            return AnsiConsole.Console;
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = PlainWidth; // a row stays on one line, for logs and grep
        return console;
    }

    /// <summary>What <paramref name="renderable"/> looks like without a terminal: plain text, as a log or a test sees it.</summary>
    public static string Text(Spectre.Console.Rendering.IRenderable renderable)
    {
        using var text = new StringWriter();
        For(text).Write(renderable);
        return text.ToString();
    }

    /// <summary>A table with a rounded border and these column headers.</summary>
    public static Table Table(params string[] columns)
    {
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var column in columns)
        {
            table.AddColumn(Markup.Escape(column));
        }
        return table;
    }

    /// <summary>Runs <paramref name="work"/>, showing the steps it reports: a progress bar at a terminal, else a line every 10 s.</summary>
    public static async Task<T> ProgressAsync<T>(TextWriter output, string description, Func<IProgress<ProgressStep>, Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(work);
        if (IsLive(output))
        {
            return await AnsiConsole.Progress().AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async context =>
                {
                    var task = context.AddTask(Markup.Escape(description), maxValue: 1);
                    return await work(new Reporter(step =>
                    {
                        task.MaxValue = Math.Max(step.Total, 1);
                        task.Value = Math.Min(step.Done, task.MaxValue);
                        task.Description = Markup.Escape($"{description}: {step.Status}");
                    }));
                });
        }
        var clock = Stopwatch.StartNew();
        var last = TimeSpan.Zero;
        return await work(new Reporter(step =>
        {
            if (clock.Elapsed - last >= PlainInterval)
            {
                last = clock.Elapsed;
                output.WriteLine($"{description}: {step.Status}");
            }
        }));
    }

}

/// <summary>Reports steps on the caller's thread, in order (<see cref="Progress{T}"/> posts them to the thread pool, which may reorder them).</summary>
public sealed class Reporter(Action<ProgressStep> report) : IProgress<ProgressStep>
{
    /// <inheritdoc/>
    public void Report(ProgressStep value) => report(value);
}
