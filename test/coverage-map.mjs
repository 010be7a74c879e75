// Every test counts towards the coverage of the service code; the simulator,
// the embedded stack and the scripts are tools, not the product.
export default () => 'src/**/*.ts'
