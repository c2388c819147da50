using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
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

    // How Amazon.Lambda.Tools decides (Utilities.HasExplicitSelfContainedFlag): it asks each project for SelfContained with the
    // defaults' msbuild-parameters, and publishes framework-dependent unless the answer is true.
    [Theory]
    [InlineData("ApiFunction", "true")]
    [InlineData("ProcessorFunction", "false")]
    [InlineData("AggregatorFunction", "false")]
    [InlineData("ImportFunction", "false")]
    public async Task The_deploy_tool_finds_only_the_api_self_contained(string function, string expected)
    {
        var parameters = Pipeline.Local.Lambda.LocalLambda.DeployParameters();

        var (code, output) = await DotnetAsync(["msbuild", PublishedFunctions.ProjectFile(function), "-nologo", "--getProperty:SelfContained", .. parameters]);

        Assert.Equal(0, code);
        Assert.Equal(expected, output.Trim() is "" ? "false" : output.Trim());
    }

    // The Api's x64 image is compiled for AVX2, which AWS documents on Lambda's x86_64 processors, so that the runtime does not refuse its
    // vector code and JIT it again; arm64 keeps crossgen2's default (docs/architecture.md, D22).
    [Theory]
    [InlineData("linux-x64", "--instruction-set:x86-64-v3")]
    [InlineData("linux-arm64", "")]
    public async Task The_api_image_is_compiled_for_the_instruction_sets_lambda_has(string runtime, string expected)
    {
        var parameters = Pipeline.Local.Lambda.LocalLambda.DeployParameters();

        var (code, output) = await DotnetAsync(["msbuild", PublishedFunctions.ProjectFile("ApiFunction"), "-nologo",
            "--getProperty:PublishReadyToRunCrossgen2ExtraArgs", "--getProperty:PublishReadyToRun", $"-p:RuntimeIdentifier={runtime}", .. parameters]);

        Assert.Equal(0, code);
        var properties = JsonNode.Parse(output)!["Properties"]!;
        Assert.Equal(expected, properties["PublishReadyToRunCrossgen2ExtraArgs"]!.GetValue<string>());
        Assert.Equal("true", properties["PublishReadyToRun"]!.GetValue<string>());
    }

    // A deploy whose msbuild parameters lost LambdaDeploy=true would publish the Api framework-dependent: it fails instead.
    [Fact]
    public async Task Publishing_the_api_framework_dependent_fails_unless_asked_for()
    {
        var output = Path.Combine(Path.GetTempPath(), $"pipeline-fd-{Guid.NewGuid():N}");
        try
        {
            var (code, log) = await DotnetAsync(["publish", PublishedFunctions.ProjectFile("ApiFunction"), "-c", "Release", "-r", "linux-x64",
                "--self-contained", "false", "-o", Path.Combine(output, "out"), "--artifacts-path", Path.Combine(output, "artifacts"), "-nologo"]);

            Assert.NotEqual(0, code);
            Assert.Contains("LambdaDeploy=true", log, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(output, "out", "Pipeline.Api.dll")));
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    private static async Task<(int Code, string Output)> DotnetAsync(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await errors);
    }

    [Fact]
    public async Task The_published_api_answers_from_its_own_executable_with_the_runtime_it_carries()
    {
        var folder = await PublishedFunctions.FolderAsync("ApiFunction", RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64");
        var port = Pipeline.Local.Emulators.LocalEmulators.FreePort();
        var start = new ProcessStartInfo(Path.Combine(folder, PublishedFunctions.AssemblyName("ApiFunction")))
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // Settings the Api checks at start; nothing here reaches AWS (GET /health touches no client).
        foreach (var (name, value) in new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
            ["Queue__Url"] = "http://127.0.0.1:1/000000000000/q",
            ["ApiKeys__TableName"] = "keys",
            ["Plans__TableName"] = "plans",
            ["AWS_REGION"] = "us-east-1",
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
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException && deadline.Elapsed < TimeSpan.FromSeconds(60))
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
