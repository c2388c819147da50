using Pipeline.Api.Hosting;

// The slim builder: what an API behind API Gateway needs (no HTTPS, no IIS, no host filtering), and a shorter start.
var builder = WebApplication.CreateSlimBuilder(args);
builder.AddPipelineApi();

var app = builder.Build();
app.Logger.LogInformation("Api {Version} starting", Pipeline.ProductVersion.Current);
app.UsePipelineApi();
app.Run();

/// <summary>The API's entry point (public for WebApplicationFactory).</summary>
public partial class Program;
