using System.Text.RegularExpressions;

namespace Pipeline.Local.Tests;

/// <summary>The documentation's mechanical facts: links resolve, and the commands it shows are ones `help` lists.</summary>
public sealed partial class DocsTests
{
    private static readonly string Root = RepositoryPaths.Discover().Root;

    private static IEnumerable<string> Pages() =>
        new[] { "README.md", Path.Combine("tests", "testdata", "README.md") }
            .Concat(Directory.EnumerateFiles(Path.Combine(Root, "docs"), "*.md").Select(p => Path.GetRelativePath(Root, p)));

    [Fact]
    public void The_readme_is_at_most_250_lines()
    {
        Assert.InRange(File.ReadAllLines(Path.Combine(Root, "README.md")).Length, 1, 250);
    }

    [Fact]
    public void Every_relative_link_resolves_to_a_file_and_heading()
    {
        var broken = new List<string>();
        foreach (var page in Pages())
        {
            foreach (Match link in Link().Matches(File.ReadAllText(Path.Combine(Root, page))))
            {
                var target = link.Groups[1].Value;
                if (target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal))
                {
                    continue;
                }
                var (path, anchor) = target.Split('#', 2) is [var p, var a] ? (p, a) : (target, null);
                var file = path.Length == 0 ? Path.Combine(Root, page) : Path.GetFullPath(Path.Combine(Root, Path.GetDirectoryName(page)!, path));
                if (!File.Exists(file) && !Directory.Exists(file))
                {
                    broken.Add($"{page}: {target} (no such file)");
                }
                else if (anchor is not null && !Anchors(file).Contains(anchor))
                {
                    broken.Add($"{page}: {target} (no such heading)");
                }
            }
        }
        Assert.Empty(broken);
    }

    [Fact]
    public async Task Every_command_the_docs_show_is_one_help_lists()
    {
        async Task<HashSet<string>> Listed(Func<string[], TextWriter, CancellationToken, Task<int>> run)
        {
            using var help = new StringWriter();
            Assert.Equal(0, await run(["help"], help, CancellationToken.None));
            return [.. help.ToString().Split('\n').Select(l => l.TrimStart().Split(' ')[0]).Where(w => w.Length > 0)];
        }
        var local = await Listed(LocalCommands.RunAsync);
        var cli = await Listed(Pipeline.Cli.CliCommands.RunAsync);

        var shown = Pages().SelectMany(page => ShownCommand().Matches(File.ReadAllText(Path.Combine(Root, page)))
            .Select(m => (page, Program: m.Groups[1].Value, Command: m.Groups[2].Value))).ToList();

        Assert.Contains(shown, s => s.Program == "pipeline");
        Assert.DoesNotContain(shown, s => !(s.Program.EndsWith("Local --", StringComparison.Ordinal) ? local : cli).Contains(s.Command));
    }

    // GitHub's heading anchors: lower case, punctuation other than '-' and '_' dropped, spaces to '-'.
    private static HashSet<string> Anchors(string file) =>
        file.EndsWith(".md", StringComparison.Ordinal)
            ? [.. File.ReadLines(file).Where(l => l.StartsWith('#')).Select(l => Slug(l.TrimStart('#').Trim()))]
            : [];

    private static string Slug(string heading) =>
        string.Concat(heading.ToLowerInvariant().Where(c => char.IsLetterOrDigit(c) || c is ' ' or '-' or '_')).Replace(' ', '-');

    [GeneratedRegex(@"\]\(([^)\s]+)\)")]
    private static partial Regex Link();

    // `pipeline X`, or its contributors' form `dotnet run --project src/Cli -- X`, and the local environment's `dotnet run --project src/Local -- X`.
    [GeneratedRegex(@"(dotnet run --project src/Local --|dotnet run --project src/Cli --|(?<=^|`)pipeline) ([a-z][a-z-]+)", RegexOptions.Multiline)]
    private static partial Regex ShownCommand();
}
