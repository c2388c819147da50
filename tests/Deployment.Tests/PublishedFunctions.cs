using System.Collections.Concurrent;
using System.Xml.Linq;
using Pipeline.Local;
using Pipeline.Local.Lambda;

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

    private static Task<string> PublishAsync(string function, string runtime) =>
        LocalLambda.PublishAsync(Template.Properties(function)["CodeUri"]!.GetValue<string>(), runtime, Path.Combine(Output, function, runtime));
}
