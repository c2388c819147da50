using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Text.Json.Nodes;

namespace Pipeline.Deployment.Tests;

public sealed class HandlerTests
{
    [Fact]
    public void Every_function_handler_is_the_executable_assembly_its_code_uri_builds()
    {
        Assert.Equal(["AggregatorFunction", "ApiFunction", "ImportFunction", "ProcessorFunction"], Template.Functions.Order());
        foreach (var function in Template.Functions)
        {
            // Lambda's dotnet bootstrap runs a handler without "::" as `dotnet exec <Handler>.dll`, the functions being their own
            // Runtime API clients (docs/architecture.md, D3); the Web Adapter's wrapper runs the Api's executable of that name (D2).
            var handler = Template.Properties(function)["Handler"]!.GetValue<string>();
            Assert.DoesNotContain("::", handler, StringComparison.Ordinal);
            Assert.Equal(PublishedFunctions.AssemblyName(function), handler);
            Assert.NotNull(Assembly.Load(handler).EntryPoint);
        }
    }

    [Theory]
    [InlineData("ApiFunction")]
    [InlineData("ProcessorFunction")]
    [InlineData("AggregatorFunction")]
    [InlineData("ImportFunction")]
    public async Task Publishing_for_linux_arm64_produces_the_program_the_template_names(string function)
    {
        var folder = await PublishedFunctions.FolderAsync(function, "linux-arm64");

        var assembly = PublishedFunctions.AssemblyName(function);
        Assert.True(File.Exists(Path.Combine(folder, assembly + ".dll")));
        Assert.True(File.Exists(Path.Combine(folder, assembly + ".runtimeconfig.json")));
        Assert.True(File.Exists(Path.Combine(folder, assembly + ".deps.json")));
        Assert.Equal("arm64", Template.FunctionProperty(function, "Architectures")![0]!.GetValue<string>());
        // Nothing the function would need from the runtime's own libraries: no Amazon.Lambda.* dependency (D3).
        Assert.DoesNotContain("Amazon.Lambda.", await File.ReadAllTextAsync(Path.Combine(folder, assembly + ".deps.json")), StringComparison.Ordinal);
        // The Api carries its runtime, compiled with it into one composite image (D22); the functions use the managed runtime's.
        var runtimeOptions = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(folder, assembly + ".runtimeconfig.json")))!["runtimeOptions"]!;
        var selfContained = function == "ApiFunction";
        Assert.Equal(selfContained, runtimeOptions["includedFrameworks"] is not null);
        Assert.Equal(selfContained, File.Exists(Path.Combine(folder, "libcoreclr.so")));
        Assert.Equal(selfContained, File.Exists(Path.Combine(folder, assembly + ".r2r.dll")));
        Assert.True(File.Exists(Path.Combine(folder, assembly)), "the executable the Web Adapter's wrapper runs");
    }

    [Fact]
    public async Task The_published_api_answers_from_its_own_executable_with_the_runtime_it_carries()
    {
        var folder = await PublishedFunctions.FolderAsync("ApiFunction", "linux-x64");
        var port = Pipeline.Local.Emulators.LocalEmulators.FreePort();
        var start = new ProcessStartInfo(Path.Combine(folder, PublishedFunctions.AssemblyName("ApiFunction")))
        {
            WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        // Settings the Api checks at start; nothing here reaches AWS (GET /health touches no client).
        foreach (var (name, value) in new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}", ["Queue__Url"] = "http://127.0.0.1:1/000000000000/q",
            ["ApiKeys__TableName"] = "keys", ["Plans__TableName"] = "plans", ["AWS_REGION"] = "us-east-1",
            ["DOTNET_ROOT"] = "/nonexistent", // a self-contained program needs no shared runtime: it must not find one
        })
        {
            start.Environment[name] = value;
        }
        using var process = Process.Start(start)!;
        var output = new ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => output.Enqueue(e.Data ?? "");
        process.ErrorDataReceived += (_, e) => output.Enqueue(e.Data ?? "");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                Assert.False(process.HasExited, "the Api exited: " + string.Join('\n', output));
                try
                {
                    var health = JsonNode.Parse(await http.GetStringAsync($"http://127.0.0.1:{port}/health"))!;
                    Assert.Equal("ok", health["status"]!.GetValue<string>());
                    break;
                }
                catch (HttpRequestException) when (deadline.Elapsed < TimeSpan.FromSeconds(30))
                {
                    await Task.Delay(50);
                }
            }
            // The runtime it runs on is the one in its folder, not a shared installation.
            var maps = await File.ReadAllTextAsync($"/proc/{process.Id}/maps");
            Assert.Contains(Path.Combine(folder, "libcoreclr.so"), maps, StringComparison.Ordinal);
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }
}
