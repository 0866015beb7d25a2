using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace TranslationTrainer.Tests.Serving;

/// <summary>
/// The playground in a real browser: Debian's chromium driven by its chromedriver (scripts/install-deps installs
/// both; nothing is downloaded). Set TT_PLAYGROUND_SCREENSHOT=FILE.png to keep the screenshot (docs/playground.png).
/// </summary>
[Collection(TorchCollection.Name)]
public class PlaygroundBrowserTests
{
    private const string Chromium = "/usr/bin/chromium", ChromeDriver = "/usr/bin/chromedriver";

    [SkippableFact]
    public async Task TypingASentenceAndClickingShowsTheTranslationNBestAndHeatMap()
    {
        Skip.IfNot(File.Exists(Chromium) && File.Exists(ChromeDriver), "chromium and chromium-driver are not installed (scripts/install-deps)");
        await using var server = await TestServer.StartAsync();
        var expected = (await (await server.PostJson("/v1/translate", new { texts = new[] { "En el principio creó Dios los cielos y la tierra." }, beam = 5, nbest = 3 }))
            .Content.ReadAsStringAsync());
        var best = System.Text.Json.Nodes.JsonNode.Parse(expected)!["translations"]![0]!["translation"]!.GetValue<string>();

        var options = new ChromeOptions { BinaryLocation = Chromium };
        // As root in a container, without the network calls that a closed network refuses.
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1100,1000",
            $"--user-data-dir={Directory.CreateTempSubdirectory("tt-chromium").FullName}");
        using var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(ChromeDriver)!, Path.GetFileName(ChromeDriver));
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        using var driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
        driver.Navigate().GoToUrl(server.Server.Address);
        var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(30));
        wait.Until(d => d.FindElement(By.Id("status")).Text == "Ready.");

        driver.FindElement(By.Id("source")).SendKeys("En el principio creó Dios los cielos y la tierra.");
        driver.FindElement(By.Id("translate")).Click();
        wait.Until(d => d.FindElement(By.Id("output")).Text.Length > 0);
        Assert.Equal(best, driver.FindElement(By.Id("output")).Text);
        Assert.Equal("", driver.FindElement(By.Id("error")).Text);
        var nbest = driver.FindElements(By.CssSelector("#nbest li"));
        Assert.Equal(3, nbest.Count);

        // The heat map is drawn: one cell per output and source subword, and coloured pixels in it.
        var drawn = wait.Until(d => d.FindElement(By.Id("heatmap")).GetDomAttribute("data-drawn"));
        Assert.Matches(@"^\d+x\d+$", drawn);
        var coloured = (long)((IJavaScriptExecutor)driver).ExecuteScript("""
            const c = document.getElementById('heatmap'), data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 0; i < data.length; i += 4) if (data[i + 2] === 255 && data[i] < 250) n++; return n;
            """)!;
        Assert.True(coloured > 100, $"{coloured} coloured pixels in the heat map");

        // Choosing another output shows its own map.
        nbest[1].Click();
        wait.Until(d => d.FindElements(By.CssSelector("#nbest li"))[1].GetDomAttribute("class") == "chosen");

        // A link that carries its sentence translates it on load.
        driver.Navigate().GoToUrl(new Uri(server.Server.Address, "/?q=" + Uri.EscapeDataString("En el principio creó Dios los cielos y la tierra.")));
        wait.Until(d => d.FindElement(By.Id("output")).Text.Length > 0);
        Assert.Equal(best, driver.FindElement(By.Id("output")).Text);
        var screenshot = Environment.GetEnvironmentVariable("TT_PLAYGROUND_SCREENSHOT") ?? Path.Combine(Path.GetTempPath(), "tt-playground.png");
        ((ITakesScreenshot)driver).GetScreenshot().SaveAsFile(screenshot);
        Assert.True(new FileInfo(screenshot).Length > 10_000);
    }
}
