using System.Reflection;

namespace Pipeline.Deployment.Tests;

public sealed class HandlerTests
{
    [Fact]
    public void Every_function_handler_is_the_executable_assembly_its_code_uri_builds()
    {
        Assert.Equal(["AggregatorFunction", "ApiFunction", "ImportFunction", "ProcessorFunction"], Template.Functions.Order());
        foreach (var function in Template.Functions)
        {
            // Lambda's dotnet bootstrap runs a handler without "::" as `dotnet exec <Handler>.dll` (docs/architecture.md, D2, D3):
            // the Api under the Web Adapter, the Processor and Aggregator as their own Runtime API clients.
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
    }
}
