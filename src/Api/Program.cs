using Pipeline.Api.Hosting;

// The slim builder: what an API behind API Gateway needs (no HTTPS, no IIS, no host filtering), and a shorter start.
var builder = WebApplication.CreateSlimBuilder(args);
builder.AddPipelineApi();

var app = builder.Build();
// The runtime too: the Api carries its own (docs/architecture.md, D22), so its patch level is the last deploy's.
// And the CPUs the runtime sees, which size its thread pool and GC (docs/cost.md, "The Api's MemorySize").
app.Logger.LogInformation("Api {Version} starting on {Runtime}, {Cpus} CPU(s)", Pipeline.ProductVersion.Current,
    System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription, Environment.ProcessorCount);
app.UsePipelineApi();
app.Run();

/// <summary>The API's entry point (public for WebApplicationFactory).</summary>
public partial class Program;
