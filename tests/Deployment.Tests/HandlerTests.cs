using System.Diagnostics;
using System.Reflection;
using System.Xml.Linq;
using Pipeline.Local.Environment;

namespace Pipeline.Deployment.Tests;

public sealed class HandlerTests
{
    private static readonly string Root = RepositoryPaths.Discover().Root;

    private static string ProjectFile(string function)
    {
        var folder = Path.GetFullPath(Path.Combine(Root, Template.Properties(function)["CodeUri"]!.GetValue<string>()));
        return Assert.Single(Directory.GetFiles(folder, "*.csproj"));
    }

    private static string AssemblyName(string function) =>
        XDocument.Load(ProjectFile(function)).Descendants("AssemblyName").Single().Value;

    [Fact]
    public void Every_function_handler_resolves_to_the_assembly_its_code_uri_builds()
    {
        Assert.Equal(["AggregatorFunction", "ApiFunction", "ProcessorFunction"], Template.Functions.Order());
        foreach (var function in Template.Functions)
        {
            var handler = Template.Properties(function)["Handler"]!.GetValue<string>();
            var assembly = Assembly.Load(AssemblyName(function));
            if (function == "ApiFunction")
            {
                // The Web Adapter runs the executable assembly the handler names (ARCHITECTURE D2).
                Assert.Equal(AssemblyName(function), handler);
                Assert.NotNull(assembly.EntryPoint);
                continue;
            }
            var parts = handler.Split("::");
            Assert.Equal(3, parts.Length);
            Assert.Equal(AssemblyName(function), parts[0]);
            var type = assembly.GetType(parts[1]);
            Assert.NotNull(type);
            Assert.NotNull(type.GetConstructor(Type.EmptyTypes));
            var method = type.GetMethod(parts[2], BindingFlags.Public | BindingFlags.Instance);
            Assert.NotNull(method);
            Assert.Equal(typeof(Task<Stream>), method.ReturnType);
            Assert.Equal([typeof(Stream)], method.GetParameters().Select(p => p.ParameterType));
        }
    }

    [Theory]
    [InlineData("ApiFunction")]
    [InlineData("ProcessorFunction")]
    [InlineData("AggregatorFunction")]
    public async Task Publishing_for_linux_arm64_produces_the_assembly_the_template_names(string function)
    {
        var output = Path.Combine(Path.GetTempPath(), $"pipeline-publish-{Guid.NewGuid():N}");
        try
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[] { "publish", ProjectFile(function), "-c", "Release", "-r", "linux-arm64", "--self-contained", "false",
                "-o", Path.Combine(output, "out"), "--artifacts-path", Path.Combine(output, "artifacts"), "-nologo" })
            {
                start.ArgumentList.Add(argument);
            }
            using var publish = Process.Start(start)!;
            var log = publish.StandardOutput.ReadToEndAsync();
            var errors = publish.StandardError.ReadToEndAsync();
            await publish.WaitForExitAsync();
            Assert.True(publish.ExitCode == 0, await log + await errors);

            var assembly = AssemblyName(function);
            Assert.True(File.Exists(Path.Combine(output, "out", assembly + ".dll")));
            Assert.True(File.Exists(Path.Combine(output, "out", assembly + ".runtimeconfig.json")));
            Assert.Equal("arm64", Template.FunctionProperty(function, "Architectures")![0]!.GetValue<string>());
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }
}
