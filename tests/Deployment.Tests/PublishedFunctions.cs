using System.Collections.Concurrent;
using System.Diagnostics;
using System.Xml.Linq;
using Pipeline.Local.Environment;

namespace Pipeline.Deployment.Tests;

/// <summary>
/// Each function published as `dotnet lambda deploy-serverless` publishes it (Release, framework-dependent, for a Linux
/// runtime identifier, ReadyToRun as the project sets it), once per test run and runtime identifier. linux-arm64 is what
/// deploys; linux-x64 is the same build for the machine the tests run on (an arm64 ReadyToRun image cannot load on x64).
/// </summary>
public static class PublishedFunctions
{
    private static readonly string Root = RepositoryPaths.Discover().Root;
    private static readonly string Output = Path.Combine(Path.GetTempPath(), $"pipeline-publish-{Environment.ProcessId}");
    private static readonly ConcurrentDictionary<(string, string), Lazy<Task<string>>> Published = new();

    static PublishedFunctions() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        if (Directory.Exists(Output))
        {
            Directory.Delete(Output, recursive: true);
        }
    };

    public static string ProjectFile(string function)
    {
        var folder = Path.GetFullPath(Path.Combine(Root, Template.Properties(function)["CodeUri"]!.GetValue<string>()));
        return Assert.Single(Directory.GetFiles(folder, "*.csproj"));
    }

    public static string AssemblyName(string function) =>
        XDocument.Load(ProjectFile(function)).Descendants("AssemblyName").Single().Value;

    /// <summary>The folder holding the function published for <paramref name="runtime"/>.</summary>
    public static Task<string> FolderAsync(string function, string runtime) =>
        Published.GetOrAdd((function, runtime), key => new Lazy<Task<string>>(() => PublishAsync(key.Item1, key.Item2))).Value;

    private static async Task<string> PublishAsync(string function, string runtime)
    {
        var folder = Path.Combine(Output, function, runtime);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "publish", ProjectFile(function), "-c", "Release", "-r", runtime, "--self-contained", "false",
            "-o", Path.Combine(folder, "out"), "--artifacts-path", Path.Combine(folder, "artifacts"), "-nologo" })
        {
            start.ArgumentList.Add(argument);
        }
        using var publish = Process.Start(start)!;
        var log = publish.StandardOutput.ReadToEndAsync();
        var errors = publish.StandardError.ReadToEndAsync();
        await publish.WaitForExitAsync();
        Assert.True(publish.ExitCode == 0, await log + await errors);
        return Path.Combine(folder, "out");
    }
}
