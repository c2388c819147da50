using Pipeline.Importer;
using Pipeline.Lambda;

return await LambdaRuntime.RunAsync("import", log => ImportFunction.FromEnvironment(log).HandleAsync);
