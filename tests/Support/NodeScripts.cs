using System.Diagnostics;
using Pipeline.Local;

namespace Pipeline.Tests;

/// <summary>
/// Runs the Node scripts of tests/Browser: the Swagger UI and analytics.js in the machine's Chromium, and Segment's and
/// RudderStack's Node libraries. Their packages are pinned by its package-lock.json and installed on first use.
/// </summary>
public static class NodeScripts
{
    /// <summary>Runs <c>node script args</c> in tests/Browser; returns its standard output, or fails the test with its errors.</summary>
    public static async Task<string> RunAsync(string script, TimeSpan timeout, params string[] arguments)
    {
        var paths = RepositoryPaths.Discover();
        var folder = Path.Combine(paths.Root, "tests", "Browser");
        // The test projects run as parallel processes: one installs while the others wait, then find it done.
        using var patience = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await using (await FileLock.AcquireAsync(Path.Combine(paths.LocalState, "npm-tests.lock"), () => { }, patience.Token))
        {
            if (!File.Exists(Path.Combine(folder, "node_modules", ".package-lock.json"))
                || File.GetLastWriteTimeUtc(Path.Combine(folder, "package-lock.json")) > File.GetLastWriteTimeUtc(Path.Combine(folder, "node_modules", ".package-lock.json")))
            {
                await ExecAsync("npm", folder, TimeSpan.FromMinutes(3), "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error");
            }
        }
        return await ExecAsync("node", folder, timeout, [script, .. arguments]);
    }

    private static async Task<string> ExecAsync(string program, string folder, TimeSpan timeout, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} {string.Join(' ', arguments)} ran over {timeout}: {await output}\n{await errors}");
        }
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} failed ({process.ExitCode}): {await output}\n{await errors}");
        return (await output).Trim();
    }
}
